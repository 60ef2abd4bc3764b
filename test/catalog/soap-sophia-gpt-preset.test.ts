/**
 * SOAP-Sophia's char-GPT settings live in two places: the catalog's gpt preset (what `compare` and the
 * daemon use) and config/gpt-reference-soap-sophia.json (what the sweep plans start from). A change to
 * one without the other would make the recorded sweep and the preset users get disagree.
 */
import t from 'tap';
import { optimizerEntry } from '../../src/catalog/index.js';
import { readConfig } from '../../src/cli/config.js';

const config = readConfig(new URL('../../config/gpt-reference-soap-sophia.json', import.meta.url).pathname);
const preset = optimizerEntry('soapSophia').presets.gpt;

t.test('the gpt preset and the reference config agree on everything but the peak lr', async (t) => {
  // The sweep overrides lr per run, so the two files' lr are not compared.
  const { lr: _c, ...fromConfig } = config.optimizer as Record<string, unknown>;
  const { lr: _p, ...fromPreset } = preset.optimizer as Record<string, unknown>;
  t.same(fromPreset, fromConfig);
  t.same(preset.curvature, config.curvature);
});

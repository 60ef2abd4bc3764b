/**
 * SOAP-Sophia's char-GPT settings live in two places: the catalog's gpt preset (what `compare` and the
 * daemon use) and config/gpt-reference-soap-sophia.json (what the sweep plans start from). A change to
 * one without the other would make the recorded sweep and the preset users get disagree. Both carry
 * the tuned peak rate, as Muon's and AdamW's presets do (the sweep sets each run's own rate).
 */
import t from 'tap';
import { optimizerEntry } from '../../src/catalog/index.js';
import { readConfig } from '../../src/cli/config.js';

const config = readConfig(new URL('../../config/gpt-reference-soap-sophia.json', import.meta.url).pathname);
const preset = optimizerEntry('soapSophia').presets.gpt;

t.test('the gpt preset and the reference config agree, at the tuned rate', async (t) => {
  t.same(preset.optimizer, config.optimizer);
  t.same(preset.curvature, config.curvature);
  // The rate the sweep's equal-budget tuning chose against Muon (bench/readings/sweep-gpt-reference-vs-muon.md).
  t.equal(config.optimizer.lr, 0.006);
});

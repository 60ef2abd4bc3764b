/**
 * PyTorch's view of a tied output head. A GPT whose head shares the token embedding (GPT-2 / nanoGPT:
 * `self.transformer.wte.weight = self.lm_head.weight`) holds one matrix, but its PyTorch `state_dict`
 * has both keys, `transformer.wte.weight` and `lm_head.weight`, and `load_state_dict(strict=True)`
 * wants both. Our layout holds the matrix once; weights.safetensors therefore writes it under both names
 * (the file holds it twice: safetensors has no aliasing), and reading a file back accepts the second
 * name only when it is bit for bit the first.
 */
export const TIED_EMBEDDING = 'transformer.wte.weight';
export const TIED_HEAD = 'lm_head.weight';

/** The tensor names a layout adds for PyTorch: `lm_head.weight` → `transformer.wte.weight` when tied. */
export function tiedAliases(names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (names.includes(TIED_EMBEDDING) && !names.includes(TIED_HEAD)) out.set(TIED_HEAD, TIED_EMBEDDING);
  return out;
}

/** Checks that a written picture is what it claims: a well-formed SVG that draws, a PNG of a sane size. */
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function checkSvg(t: Test, path: string): void {
  const svg = readFileSync(path, 'utf8');
  t.match(svg, /^<svg[\s>]/, `${path} starts with an <svg> root`);
  t.match(svg, /<\/svg>\s*$/, `${path} closes its <svg> root`);
  t.match(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  // Well-formed: every element closed in order, one <svg> root.
  const stack: string[] = [];
  let roots = 0;
  let balanced = true;
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:.-]*)(?:\s[^>]*?)?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (closing) balanced &&= stack.pop() === name;
    else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  t.ok(balanced && stack.length === 0, `${path}: every element is closed in order`);
  t.equal(roots, 1, `${path}: one root element`);
  t.match(svg, /<path[^>]* d="M[\d.-]/, `${path} draws a path`);
}

export function checkPng(t: Test, path: string): void {
  const png = readFileSync(path);
  t.same([...png.subarray(0, 8)], PNG_SIGNATURE, `${path} has the PNG signature`);
  t.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  t.ok(width >= 400 && width <= 4000, `${path}: width ${width}`);
  t.ok(height >= 300 && height <= 4000, `${path}: height ${height}`);
}

/**
 * Plots as Vega specs rendered headless: `new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG()`
 * gives the SVG, @resvg/resvg-js rasterises it to PNG (both loaded on first use: they are heavy, and
 * `--help` or a config error should not wait for them). A figure is a column of panels; each panel has
 * its own axes and one line per series (a legend when there are several).
 */
import type * as vega from 'vega';
import { writeFileAtomic } from '../io/atomic-write.js';
import { importOptional } from '../util/optional-dependency.js';

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: readonly Point[];
  /** Mark each point (for sparse series such as held-out evaluations). */
  symbols?: boolean;
  /** Stroke dash pattern, e.g. [6, 3], so curves that coincide stay distinguishable. */
  dash?: number[];
  /** A thin translucent line behind the others (e.g. the raw minibatch losses under their average). */
  faint?: boolean;
}

export interface Panel {
  title: string;
  xTitle: string;
  yTitle: string;
  series: readonly Series[];
  /** Legend title (shown when there are several series). */
  legendTitle?: string;
  /** Fixed x range, e.g. [1, steps], so panels of one run line up. */
  xDomain?: [number, number];
  /** d3-format of the tick labels (default '~r'), e.g. '.0%'. */
  xFormat?: string;
  yFormat?: string;
  /** 'log' for losses spanning decades; non-positive values are dropped then. */
  yScale?: 'linear' | 'log';
  /**
   * The y axis spans at least this much (centred on the data, kept inside `yBounds`), so a small swing
   * (an accuracy moving by 0.2 points) is not drawn as if it were large.
   */
  yMinSpan?: number;
  /** Hard limits of the y axis with `yMinSpan`, e.g. [0, 1] for an accuracy. */
  yBounds?: [number, number];
}

/** The y domain of `values` widened to `minSpan` around their middle, inside `bounds`. */
export function yDomainWithMinSpan(
  values: readonly number[],
  minSpan: number,
  bounds: [number, number] = [-Infinity, Infinity],
): [number, number] | null {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
    if (lo < bounds[0]) [lo, hi] = [bounds[0], Math.min(bounds[1], bounds[0] + minSpan)];
    if (hi > bounds[1]) [lo, hi] = [Math.max(bounds[0], bounds[1] - minSpan), bounds[1]];
  }
  return [lo, hi];
}

export interface FigureOptions {
  title?: string;
  width?: number;
  panelHeight?: number;
}

/** The Vega spec of a column of panels. */
export function figureSpec(panels: readonly Panel[], options: FigureOptions = {}): vega.Spec {
  const width = options.width ?? 560;
  const height = options.panelHeight ?? 220;
  const gap = 70;
  const data: vega.Data[] = [];
  const marks: vega.Mark[] = [];
  panels.forEach((panel, i) => {
    const log = panel.yScale === 'log';
    const values = panel.series.flatMap((s) =>
      s.points
        .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!log || p.y > 0))
        .map((p) => ({
          series: s.name,
          x: p.x,
          y: p.y,
          symbol: s.symbols === true,
          opacity: s.faint ? 0.35 : 1,
          width: s.faint ? 0.8 : 1.6,
        })),
    );
    const shown = panel.series.filter((s) => values.some((v) => v.series === s.name));
    const yDomain =
      panel.yMinSpan === undefined
        ? null
        : yDomainWithMinSpan(
            values.map((v) => v.y),
            panel.yMinSpan,
            panel.yBounds,
          );
    const name = `panel${i}`;
    data.push({ name, values });
    const several = panel.series.length > 1;
    const encodeLine = {
      x: { scale: 'x', field: 'x' },
      y: { scale: 'y', field: 'y' },
      stroke: { scale: 'color', field: 'series' },
      strokeDash: { scale: 'dash', field: 'series' },
      strokeOpacity: { field: 'opacity' },
      strokeWidth: { field: 'width' },
    };
    const inner: vega.Mark[] = [{ type: 'line', from: { data: `${name}f` }, encode: { enter: encodeLine } }];
    const symbols: vega.Mark[] = [];
    if (panel.series.some((s) => s.symbols)) {
      data.push({ name: `${name}s`, source: name, transform: [{ type: 'filter', expr: 'datum.symbol' }] });
      symbols.push({
        type: 'symbol',
        from: { data: `${name}s` },
        encode: {
          enter: {
            x: { scale: 'x', field: 'x' },
            y: { scale: 'y', field: 'y' },
            fill: { scale: 'color', field: 'series' },
            size: { value: 30 },
          },
        },
      });
    }
    marks.push({
      type: 'group',
      title: { text: panel.title, anchor: 'start', fontSize: 13 },
      encode: {
        enter: {
          x: { value: 0 },
          y: { value: i * (height + gap) },
          width: { value: width },
          height: { value: height },
        },
      },
      scales: [
        {
          name: 'x',
          type: 'linear',
          domain: panel.xDomain ?? { data: name, field: 'x' },
          range: [0, width],
          zero: false,
        },
        {
          name: 'y',
          type: log ? 'log' : 'linear',
          domain: yDomain ?? { data: name, field: 'y' },
          range: [height, 0],
          zero: false,
          nice: true,
        },
        { name: 'color', type: 'ordinal', domain: shown.map((s) => s.name), range: 'category' },
        {
          name: 'dash',
          type: 'ordinal',
          domain: shown.map((s) => s.name),
          range: shown.map((s) => s.dash ?? [1, 0]),
        },
      ],
      axes: [
        { orient: 'bottom', scale: 'x', title: panel.xTitle, tickCount: 8, format: panel.xFormat ?? '~r' },
        {
          orient: 'left',
          scale: 'y',
          title: panel.yTitle,
          grid: true,
          tickCount: 6,
          format: panel.yFormat ?? '~r',
        },
      ],
      legends: several
        ? [
            {
              stroke: 'color',
              strokeDash: 'dash',
              symbolType: 'stroke',
              symbolStrokeWidth: 2,
              orient: 'right',
              title: panel.legendTitle ?? '',
              labelLimit: 320,
            },
          ]
        : [],
      marks: [
        {
          type: 'group',
          from: { facet: { name: `${name}f`, data: name, groupby: 'series' } },
          marks: inner,
        },
        ...symbols,
      ],
    });
  });
  return {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    ...(options.title ? { title: { text: options.title, fontSize: 15 } } : {}),
    width,
    height: panels.length * height + (panels.length - 1) * gap,
    padding: 12,
    background: 'white',
    data,
    marks,
  };
}

/** Renders a Vega spec to an SVG string, headless. */
export async function renderSvg(spec: vega.Spec): Promise<string> {
  const vega = await importOptional<typeof import('vega')>('vega');
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG bytes at `scale`× its size, on white. */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await importOptional<typeof import('@resvg/resvg-js')>('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** Renders panels and writes `<base>.svg` and `<base>.png`; returns both paths. */
export async function writeFigure(
  base: string,
  panels: readonly Panel[],
  options: FigureOptions = {},
): Promise<{ svg: string; png: string }> {
  const svg = await renderSvg(figureSpec(panels, options));
  await writeFileAtomic(`${base}.svg`, svg, { fsync: false });
  await writeFileAtomic(`${base}.png`, await svgToPng(svg), { fsync: false });
  return { svg: `${base}.svg`, png: `${base}.png` };
}

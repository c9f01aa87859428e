import { describe, expect, it } from 'vitest';
import { patternRows, sparkPoints } from './patterns';
import { patternQuery } from './queries';
import { stack } from './stack';

describe('stack', () => {
  it('sums each group, nulls as 0, bands between neighbours of a group', () => {
    const { values, bands } = stack(
      [
        [1, 2, null],
        [10, 20, 30],
        [5, 5, 5],
        [100, null, 300],
        [1, 1, 1],
      ],
      (i) => (i === 2 ? 'cmp' : i === 4 ? null : 'main'),
    );
    expect(values).toEqual([
      [1, 2, 0],
      [11, 22, 30],
      [5, 5, 5],
      [111, 22, 330],
      [1, 1, 1],
    ]);
    // uPlot indices: series i is i+1; the upper series first.
    expect(bands).toEqual([{ series: [2, 1] }, { series: [4, 2] }]);
  });
  it('leaves a single series as it is', () => {
    expect(stack([[1, null]], () => 'main')).toEqual({ values: [[1, 0]], bands: [] });
  });
});

describe('patterns', () => {
  it('puts samples on the grid, most lines first', () => {
    const rows = patternRows(
      [
        { pattern: 'a <_>', samples: [[100, 2], [160, 3], [500, 7]] },
        { pattern: 'b', samples: [[130, 20]] },
        { pattern: 'c', samples: [[100, 12]] },
      ],
      100_000,
      60_000,
      3,
    );
    expect(rows).toEqual([
      { pattern: 'b', total: 20, counts: [20, 0, 0] },
      { pattern: 'a <_>', total: 12, counts: [2, 3, 0] },
      { pattern: 'c', total: 12, counts: [12, 0, 0] },
    ]);
  });
  it('draws a sparkline from the bottom up', () => {
    expect(sparkPoints([0, 5, 10], 100, 20)).toBe('0,20 50,10 100,0');
    expect(sparkPoints([0, 0], 10, 4)).toBe('0,4 10,4');
    expect(sparkPoints([], 10, 4)).toBe('');
  });
  it('filters a query to a pattern with |>', () => {
    expect(patternQuery('{service_name="orders"} |= "x"', 'order <_> "id"')).toBe(
      '{service_name="orders"} |= "x" |> "order <_> \\"id\\""',
    );
  });
});

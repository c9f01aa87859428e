import { describe, expect, it } from 'vitest';
import { renderRunbook } from './runbook';

const explore = (mode: string, q: string) => `/explore?mode=${mode}&q=${encodeURIComponent(q)}`;
const base = 'http://horus.test:3300/runbooks/OrdersAvailabilitySLO';

describe('runbooks', () => {
  it('renders Markdown, a query block with its Explore link', () => {
    const html = renderRunbook(
      '# Orders\n\nSee [checkout](CheckoutAvailabilitySLO.md).\n\n```promql\nsum(rate(x{a="b"}[5m])) > 0 & 1\n```\n\n```sh\nls\n```\n',
      base,
      explore,
    );
    expect(html).toContain('<h1>Orders</h1>');
    expect(html).toContain('<a href="/runbooks/CheckoutAvailabilitySLO.md">checkout</a>');
    expect(html).toContain(
      `<a class="run-in-explore" data-testid="run-in-explore" href="/explore?mode=metrics&amp;q=${encodeURIComponent('sum(rate(x{a="b"}[5m])) > 0 & 1')}">`,
    );
    expect(html).toContain('<code class="language-promql">sum(rate(x{a=&quot;b&quot;}[5m])) &gt; 0 &amp; 1\n</code>');
    expect(html.match(/Run in Explore/g)).toHaveLength(1);
  });
  it('maps LogQL and TraceQL to their modes', () => {
    const html = renderRunbook('```logql\n{a="b"}\n```\n\n```traceql\n{ status = error }\n```\n', base, explore);
    expect(html).toContain('mode=logs&amp;q=%7Ba%3D%22b%22%7D');
    expect(html).toContain('mode=traces&amp;q=%7B%20status%20%3D%20error%20%7D');
  });
  it('escapes raw HTML and drops dangerous links', () => {
    const html = renderRunbook(
      '<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) [y](https://example.com/a?b=1&c=2)',
      base,
      explore,
    );
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('javascript:');
    expect(html).toContain('<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">y</a>');
  });
  it('renders GFM tables, escaping HTML in their cells', () => {
    const html = renderRunbook('| alert | severity |\n|---|---|\n| OrdersSLO | <b>page</b> |\n', base, explore);
    expect(html).toContain('<table>');
    expect(html).toContain('<th>alert</th>');
    expect(html).toContain('<td>OrdersSLO</td>');
    expect(html).toContain('<td>&lt;b&gt;page&lt;/b&gt;</td>');
  });
});

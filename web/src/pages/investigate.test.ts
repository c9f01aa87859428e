import { describe, expect, it } from 'vitest';
import { investigateTitle } from './Investigate';

describe('investigateTitle', () => {
  it('names the alert and its service when the investigation is an alert’s', () => {
    expect(investigateTitle({ alert: 'OrdersAvailabilitySLO', service: 'orders', signal: 'promql' }, 'abc')).toBe(' OrdersAvailabilitySLO on orders');
  });
  it('names the signal and service of a symptom', () => {
    expect(investigateTitle({ service: 'orders', signal: 'latency' })).toBe(' latency of orders');
    expect(investigateTitle({ service: 'orders' })).toBe(' errors of orders');
    expect(investigateTitle({ service: 'orders', signal: 'promql' })).toBe(' the series of orders');
  });
  it('falls back to the fingerprint before the answer arrives', () => {
    expect(investigateTitle(undefined, '0123456789abcdef')).toBe(' alert 0123456789abcdef');
    expect(investigateTitle(undefined)).toBe('');
  });
});

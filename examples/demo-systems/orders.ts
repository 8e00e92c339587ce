import type { StoreOrder } from './store.js';

/**
 * The demo's three orders, as the store sends them. Order ids differ from
 * run to run (`firstId` is the run's seed: the hub keeps its data between
 * runs and ignores an event it has seen); the customers are the same
 * returning ones.
 *
 * - Ada's order is placed, then paid: the whole loop.
 * - Grace's order is placed, then paid, with other items.
 * - Alan's order has a gift card, which the ERP does not sell: its sales
 *   order is refused (422) and becomes a dead letter.
 */
export function demoOrders(firstId: number, now = new Date()): StoreOrder[] {
  const at = now.toISOString();
  const order = (n: number, o: Omit<StoreOrder, 'id' | 'number' | 'financial_status' | 'currency' | 'created_at'>): StoreOrder => ({
    id: firstId + n,
    number: `#${firstId + n}`,
    financial_status: 'pending',
    currency: 'eur',
    created_at: at,
    ...o,
  });
  return [
    order(0, {
      customer: { id: 501, email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace' },
      line_items: [
        { sku: 'MUG-BLUE', title: 'Blue mug', quantity: 2, price: '12.50' },
        { sku: 'TEE-L', title: 'T-shirt (L)', quantity: 1, price: '25.00' },
      ],
      shipping_price: '4.90',
      total_price: '54.90',
      shipping_address: { name: 'Ada Lovelace', address1: '12 Analytical Row', city: 'London', zip: 'N1 1AA', country_code: 'GB' },
    }),
    order(1, {
      customer: { id: 502, email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper' },
      line_items: [
        { sku: 'CAP-RED', title: 'Red cap', quantity: 1, price: '18.00' },
        { sku: 'BAG-TOTE', title: 'Tote bag', quantity: 1, price: '22.00' },
      ],
      shipping_price: '4.90',
      total_price: '44.90',
      shipping_address: { name: 'Grace Hopper', address1: '1 Compiler Way', city: 'Arlington', zip: '22201', country_code: 'US' },
    }),
    order(2, {
      customer: { id: 503, email: 'alan@example.com', first_name: 'Alan', last_name: 'Turing' },
      line_items: [
        { sku: 'MUG-BLUE', title: 'Blue mug', quantity: 1, price: '12.50' },
        { sku: 'GIFT-50', title: 'Gift card, 50 EUR', quantity: 1, price: '50.00' },
      ],
      shipping_price: '0.00',
      total_price: '62.50',
      shipping_address: { name: 'Alan Turing', address1: '3 Bletchley Lane', city: 'Manchester', zip: 'M1 1AA', country_code: 'GB' },
    }),
  ];
}

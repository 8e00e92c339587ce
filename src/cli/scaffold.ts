/**
 * The files `causeway init` writes: a store that posts orders, an ERP that
 * receives them over HTTP, one flow between them, a sample payload and the
 * flow tests for it. Everything here passes `causeway validate` and
 * `causeway test` as written (a test in test/integration/cli.test.ts checks).
 */
export const SCAFFOLD: Readonly<Record<string, string>> = {
  'causeway.yaml': `# A Causeway integration project: review it, test it (causeway test) and
# deploy it like code. Secrets come from the environment; the values after
# :- are defaults for trying it locally only.
version: 1
name: my-integration

# Connectors reach public addresses; loopback, private networks and cloud
# metadata are refused unless listed here. The local defaults below point
# at 127.0.0.1: list your real systems' addresses instead when you deploy.
egress:
  allow: ["127.0.0.1"]

systems:
  store:
    kind: webhook
    description: The online store; it posts its orders to /v1/inbound/store/orders
    auth:
      api_key: \${env:STORE_API_KEY:-dev-store-key-change-me}
    owns: [order, customer]
    topics:
      orders:
        mapping: mappings/store-order.jsonata
        event_id: event_id

  erp:
    kind: http
    description: The ERP; every order becomes a sales order there
    personal_data: allowed   # it gets the customer's email; systems not cleared get no personal data
    config:
      base_url: \${env:ERP_URL:-http://127.0.0.1:9000}
      auth:
        type: bearer
        token: \${env:ERP_TOKEN:-dev-erp-token}
    delivery:
      rate_limit: { per_second: 20 }

flows:
  order-to-erp:
    description: New and changed orders become sales orders in the ERP
    when:
      entity: order
      on: [created, updated]
    do:
      system: erp
      action: request
      with:
        method: PUT
        path: /sales-orders/{order_number}
    map: mappings/order-to-erp.jsonata
    retry: { attempts: 5, base_delay_ms: 1000 }
`,

  'mappings/store-order.jsonata': `/* The store's order → the customer and the order, in canonical form.
   Amounts arrive as decimal strings ("12.50"); canonical amounts are
   integer cents. The order's customer_id is filled with the canonical id of
   the customer written just before it (refs). */
(
  $cents := function($v) { $round($number($v) * 100) };
  [
    {
      "entity": "customer",
      "external_id": $string(customer.id),
      "data": {
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name
      }
    },
    {
      "entity": "order",
      "external_id": $string(id),
      "data": {
        "number": $string(number),
        "status": financial_status = "paid" ? "paid" : "pending",
        "email": customer.email,
        "currency": $uppercase(currency),
        "lines": [line_items.{
          "sku": sku,
          "name": title,
          "quantity": quantity,
          "unit_price": $cents(price)
        }],
        "total": $cents(total_price),
        "placed_at": created_at
      },
      "refs": { "customer_id": { "entity": "customer", "external_id": $string(customer.id) } }
    }
  ]
)
`,

  'mappings/order-to-erp.jsonata': `/* A canonical order → the ERP's sales order (the body of the PUT).
   $id is the order's id in the hub; order_number also fills the path. */
{
  "order_number": number,
  "customer_email": email,
  "currency": currency,
  "lines": [lines.{ "sku": sku, "quantity": quantity, "unit_price_cents": unit_price }],
  "total_cents": total,
  "hub_id": $id
}
`,

  'samples/store-order.json': `{
  "event_id": "evt_1001",
  "id": 1001,
  "number": "1001",
  "financial_status": "pending",
  "currency": "eur",
  "created_at": "2026-01-15T09:30:00Z",
  "customer": { "id": 501, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace" },
  "line_items": [
    { "sku": "MUG-BLUE", "title": "Blue mug", "quantity": 2, "price": "12.50" },
    { "sku": "TEE-L", "title": "T-shirt (L)", "quantity": 1, "price": "25.00" }
  ],
  "total_price": "50.00"
}
`,

  'tests/orders.yaml': `# Flow tests: "causeway test" runs them offline (no hub, no database, no
# network). Records are matched on the fields you list; inputs and requests
# exactly. A record the payload creates gets the id <prefix>_new_<n>.

- name: a store order becomes a customer and an order
  inbound:
    system: store
    topic: orders
    payload: samples/store-order.json
  expect:
    records:
      - entity: customer
        external_id: "501"
        data: { email: ada@example.com, first_name: Ada }
      - entity: order
        external_id: "1001"
        data:
          number: "1001"
          status: pending
          currency: EUR
          total: 5000
          customer_id: cus_new_1
          lines:
            - { sku: MUG-BLUE, quantity: 2, unit_price: 1250 }
            - { sku: TEE-L, quantity: 1, unit_price: 2500 }
    deliveries:
      - flow: order-to-erp
        request: { method: PUT, path: /sales-orders/1001 }

- name: an order becomes the ERP's sales order
  flow: order-to-erp
  record:
    id: ord_test_1
    data:
      number: "1001"
      status: paid
      email: ada@example.com
      currency: EUR
      lines: [{ sku: MUG-BLUE, name: Blue mug, quantity: 2, unit_price: 1250 }]
      total: 2500
      placed_at: "2026-01-15T09:30:00Z"
  expect:
    request:
      method: PUT
      path: /sales-orders/1001
      body:
        order_number: "1001"
        customer_email: ada@example.com
        currency: EUR
        lines: [{ sku: MUG-BLUE, quantity: 2, unit_price_cents: 1250 }]
        total_cents: 2500
        hub_id: ord_test_1
`,

  '.gitignore': `data/
`,

  'README.md': `# my-integration

A [Causeway](https://github.com/causeway-hub/causeway) integration project:
the online store posts its orders; each becomes a customer and an order in
the hub, and the order is sent to the ERP as a sales order.

| path | what |
| --- | --- |
| \`causeway.yaml\` | the systems, what each owns, and the flows between them |
| \`mappings/\` | JSONata mappings: a system's payload → canonical records, a record → a flow's request |
| \`samples/\` | example payloads, for tests and dry runs |
| \`tests/\` | flow tests, run offline by \`causeway test\` |

\`\`\`sh
causeway validate                     # every problem at once, with file and line
causeway test                         # the flow tests (what CI runs)
causeway plan samples/store-order.json --system store --topic orders   # what this payload would do; sends nothing
causeway start                        # the hub on http://127.0.0.1:8080; reloads when these files change
\`\`\`

With the hub running, post the sample as the store would:

\`\`\`sh
curl -s -X POST http://127.0.0.1:8080/v1/inbound/store/orders \\
  -H 'authorization: Bearer dev-store-key-change-me' \\
  -H 'content-type: application/json' \\
  -d @samples/store-order.json
# → {"id":1,"status":"accepted","trace_id":"…"}
causeway trace <trace_id>             # what it caused, as a timeline
causeway status                       # systems and flows at a glance
\`\`\`

Set \`STORE_API_KEY\`, \`ERP_URL\` and \`ERP_TOKEN\` anywhere but on your own machine.
`,
};

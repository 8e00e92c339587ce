import type { CustomerInput, CustomerOutput } from './manifest.js';
import { countryByCode } from './refdata.js';
import type { TrytonClient } from './rpc.js';

/**
 * Upsert of a customer as a Tryton party. The party's own code is numbered
 * by Tryton (and read-only over RPC), so the hub's id is kept as a party
 * identifier without a type: a repeat, or a later version, finds the party
 * by it instead of creating a second one.
 */

type Address = NonNullable<CustomerInput['address']>;

interface PartyRow {
  id: number;
  code: string;
  addresses: number[];
  contact_mechanisms: number[];
}

interface MechanismRow {
  id: number;
  type: string;
  value: string;
}

/** Canonical address → party.address values (on-change logic does not run over RPC: every field is sent). */
async function addressValues(client: TrytonClient, a: Address): Promise<Record<string, unknown>> {
  return {
    party_name: a.name ?? null,
    name: a.company ?? null,
    street: [a.line1, a.line2].filter((l) => l).join('\n'),
    postal_code: a.postal_code ?? null,
    city: a.city,
    country: (await countryByCode(client, a.country)) ?? null,
  };
}

function mechanisms(input: CustomerInput): Array<{ type: string; value: string }> {
  const out: Array<{ type: string; value: string }> = [];
  if (input.email) out.push({ type: 'email', value: input.email });
  const phone = input.phone ?? input.address?.phone;
  if (phone) out.push({ type: 'phone', value: phone });
  return out;
}

export async function findPartyByRef(client: TrytonClient, ref: string): Promise<PartyRow | undefined> {
  const rows = await client.model<PartyRow[]>(
    'party.party',
    'search_read',
    [[['identifiers.code', '=', ref]], 0, 1, [['id', 'ASC']], ['code', 'addresses', 'contact_mechanisms']],
    // Archived parties too: an archived customer ordering again is the same customer.
    { active_test: false },
  );
  return rows[0];
}

export async function upsertCustomer(client: TrytonClient, input: CustomerInput): Promise<CustomerOutput> {
  const address = input.address ? await addressValues(client, input.address) : undefined;
  const existing = await findPartyByRef(client, input.ref);
  if (!existing) {
    const [id] = await client.model<number[]>('party.party', 'create', [
      [
        {
          name: input.name,
          identifiers: [['create', [{ type: null, code: input.ref }]]],
          // Without addresses Tryton adds an empty one; a sale needs one either way.
          ...(address ? { addresses: [['create', [address]]] } : {}),
          contact_mechanisms: [['create', mechanisms(input)]],
        },
      ],
    ]);
    const [row] = await client.model<PartyRow[]>('party.party', 'read', [[id], ['code', 'addresses']]);
    return { party_id: id!, code: row?.code ?? '', address_id: row?.addresses[0] ?? null, created: true };
  }

  const values: Record<string, unknown> = { name: input.name, active: true };
  // Contact mechanisms: the first of each type is ours to keep current; others the ERP's users added stay.
  const current = existing.contact_mechanisms.length
    ? await client.model<MechanismRow[]>('party.contact_mechanism', 'read', [existing.contact_mechanisms, ['type', 'value']])
    : [];
  const commands: unknown[] = [];
  const toCreate: Array<{ type: string; value: string }> = [];
  for (const m of mechanisms(input)) {
    const same = current.find((c) => c.type === m.type);
    if (!same) toCreate.push(m);
    else if (same.value !== m.value) commands.push(['write', [same.id], { value: m.value }]);
  }
  if (toCreate.length) commands.push(['create', toCreate]);
  if (commands.length) values['contact_mechanisms'] = commands;
  let addressId = existing.addresses[0] ?? null;
  if (address) {
    if (addressId === null) values['addresses'] = [['create', [address]]];
    else values['addresses'] = [['write', [addressId], address]];
  }
  await client.model('party.party', 'write', [[existing.id], values]);
  if (addressId === null && address) {
    const [row] = await client.model<PartyRow[]>('party.party', 'read', [[existing.id], ['addresses']]);
    addressId = row?.addresses[0] ?? null;
  }
  return { party_id: existing.id, code: existing.code, address_id: addressId, created: false };
}

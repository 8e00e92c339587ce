import { SaxesParser } from 'saxes';

interface Frame {
  attributes: Record<string, string>;
  children: Record<string, unknown>;
  hasChildren: boolean;
  text: string;
}

/**
 * One XML element (its complete text) as a JSON value, the way mappings read
 * it: an element with only text is that string; otherwise an object with
 * `@name` for attributes, child elements by name (an array when repeated)
 * and `#text` for non-blank text beside them.
 *
 *     <item id="7"><sku>MUG-1</sku><tag>a</tag><tag>b</tag></item>
 *     → { "@id": "7", "sku": "MUG-1", "tag": ["a", "b"] }
 *
 * Only the five predefined entities and character references are known
 * (entities declared in a DTD are not).
 */
export function xmlToValue(xml: string): { value: unknown } | { reason: string } {
  const parser = new SaxesParser({ position: true });
  const stack: Frame[] = [];
  let result: unknown;
  let error: string | undefined;
  parser.on('error', (e) => {
    // saxes prefixes line:column inside this one element; the caller reports the element's line in the file.
    error ??= e.message.replace(/^\d+:\d+: /, '');
  });
  parser.on('opentag', (tag) => {
    stack.push({ attributes: tag.attributes as Record<string, string>, children: Object.create(null) as Record<string, unknown>, hasChildren: false, text: '' });
  });
  const onText = (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', (tag) => {
    const frame = stack.pop();
    if (!frame) return;
    const value = frameValue(frame);
    const parent = stack[stack.length - 1];
    if (!parent) {
      result = value;
      return;
    }
    parent.hasChildren = true;
    const prior = parent.children[tag.name];
    if (prior === undefined) parent.children[tag.name] = value;
    else if (Array.isArray(prior)) prior.push(value);
    else parent.children[tag.name] = [prior, value];
  });
  try {
    parser.write(xml).close();
  } catch (e) {
    error ??= e instanceof Error ? e.message : String(e);
  }
  if (error !== undefined) return { reason: error };
  return { value: result };
}

function frameValue(f: Frame): unknown {
  const attributeNames = Object.keys(f.attributes);
  const blank = f.text.trim() === '';
  if (attributeNames.length === 0 && !f.hasChildren) return blank ? '' : f.text;
  const out: Record<string, unknown> = {};
  for (const k of attributeNames) out[`@${k}`] = f.attributes[k];
  Object.assign(out, f.children);
  if (!blank) out['#text'] = f.text.trim();
  return out;
}

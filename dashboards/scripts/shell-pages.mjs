// After the build: the shell page (svelte.config.js's adapter fallback) at the address of every page that is rendered
// in the browser from its one template (the +page.js beside the template says prerender = false): each service,
// agency, department and published benefit, read from the published files (EVIDENCE_VAR__published_dir), so that a
// plain file server serves each page, which the browser then renders from its template and the published data. Each
// is written at its identifier decoded whole ('REV/001' at services/REV/001/), where a file server looks for the
// address services/REV%2F001/ and where SvelteKit writes a prerendered page (patches/@sveltejs+kit+2.8.4+002).
import { DuckDBInstance } from '@duckdb/node-api';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

// Each kind's folder: the published file that names its pages, and the query of their identifiers there (the links
// to them are made from the same columns: sources/published/kpi_service_summary.sql, benefits_realisation.sql).
const PAGES = {
	services: ['service_catalogue.parquet', 'SELECT DISTINCT service_id FROM read_parquet($file)'],
	agencies: ['service_catalogue.parquet', 'SELECT DISTINCT agency_id FROM read_parquet($file)'],
	departments: ['service_catalogue.parquet', 'SELECT DISTINCT department FROM read_parquet($file)'],
	// a deployment without a benefits register publishes no file, and links to no benefit
	benefits: ['benefits_realisation.parquet', 'SELECT DISTINCT benefit_id FROM read_parquet($file)']
};

const published = process.env.EVIDENCE_VAR__published_dir;
if (!published) throw new Error('EVIDENCE_VAR__published_dir is not set: the folder of the published files');
const build = join(import.meta.dirname, '..', 'build');
const connection = await (await DuckDBInstance.create(':memory:')).connect();
for (const [folder, [name, query]] of Object.entries(PAGES)) {
	const file = join(published, name);
	const ids = existsSync(file) ? (await connection.runAndReadAll(query, { file })).getRows().map(([id]) => id) : [];
	for (const id of ids) {
		if (id.split('/').some((part) => ['', '.', '..'].includes(part)))
			throw new Error(`identifier ${id} cannot be an address under ${folder}/`);
		mkdirSync(join(build, folder, id), { recursive: true });
		copyFileSync(join(build, 'shell.html'), join(build, folder, id, 'index.html'));
	}
	console.log(`${folder}: ${ids.length} addresses served by the shell page`);
}

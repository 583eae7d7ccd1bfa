// Copies the published tables (CSV and Parquet), datapackage.json and the ministers' summaries (reports/: PDF and
// HTML) into static/open-data/, so the built site offers every table and summary for download beside the pages.
// The folder is EVIDENCE_VAR__published_dir (the same one the sources read).
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const published = process.env.EVIDENCE_VAR__published_dir;
if (!published) throw new Error('EVIDENCE_VAR__published_dir is not set: the folder of the published files');
const target = join(import.meta.dirname, '..', 'static', 'open-data');
rmSync(target, { recursive: true, force: true });
mkdirSync(join(target, 'reports'), { recursive: true });
const copy = (folder, test, into) => {
	if (!existsSync(folder)) return [];
	const files = readdirSync(folder).filter(test);
	for (const file of files) copyFileSync(join(folder, file), join(into, file));
	return files;
};
const tables = copy(published, (f) => /\.(csv|parquet)$/.test(f) || f === 'datapackage.json', target);
const reports = copy(join(published, 'reports'), (f) => /\.(pdf|html)$/.test(f), join(target, 'reports'));
console.log(`open-data: ${tables.length} files and ${reports.length} summaries from ${published}`);

// Copies the published CSV files and datapackage.json into static/open-data/, so the built site offers every table
// for download beside the pages. The folder is EVIDENCE_VAR__published_dir (the same one the sources read).
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const published = process.env.EVIDENCE_VAR__published_dir;
if (!published) throw new Error('EVIDENCE_VAR__published_dir is not set: the folder of the published files');
const target = join(import.meta.dirname, '..', 'static', 'open-data');
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
const files = readdirSync(published).filter((f) => f.endsWith('.csv') || f === 'datapackage.json');
for (const file of files) copyFileSync(join(published, file), join(target, file));
console.log(`open-data: ${files.length} files from ${published}`);

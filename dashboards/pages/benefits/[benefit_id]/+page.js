// Benefit pages are rendered in the browser from this one template, not prerendered one by one at build time: a
// national register has hundreds (svelte.config.js; scripts/shell-pages.mjs gives each its address).
export const prerender = false;

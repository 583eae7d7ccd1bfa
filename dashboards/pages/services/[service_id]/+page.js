// Service pages are rendered in the browser from this one template, not prerendered one by one at build time: a
// national catalogue has thousands (svelte.config.js; scripts/shell-pages.mjs gives each its address).
export const prerender = false;

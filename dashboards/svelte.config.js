// SvelteKit settings that Evidence merges into its own at build time.
import adapter from '@sveltejs/adapter-static';

// Page templates that may have no page at all: a deployment without a benefits register links to no benefit. Every
// other prerendered template must be reached by a link while the site is crawled, or the build fails. (The benefit,
// service, agency and department templates are not prerendered now, so the crawl never needs them: see the adapter.)
const MAY_HAVE_NO_PAGE = ['/benefits/[benefit_id]'];

export default {
	kit: {
		// Evidence's own adapter settings, and a shell page that renders any page in the browser: the service, agency,
		// department and benefit pages are not prerendered (the +page.js beside each template) but rendered from their
		// one template on demand; scripts/shell-pages.mjs puts the shell at each one's address, so a plain file server
		// serves them all.
		adapter: adapter({ pages: process.env.EVIDENCE_BUILD_DIR ?? './build', strict: false, fallback: 'shell.html' }),
		prerender: {
			// handleUnseenRoutes is SvelteKit 2.16's; 2.8 has it from patches/@sveltejs+kit+2.8.4.patch.
			handleUnseenRoutes: ({ routes, message }) => {
				if (routes.some((route) => !MAY_HAVE_NO_PAGE.includes(route))) throw new Error(message);
				console.warn(message);
			}
		}
	}
};

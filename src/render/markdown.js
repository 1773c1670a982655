/**
 * Markdown rendering of model output. Raw HTML is disabled (everything the model writes
 * as HTML is escaped and shows as text), images are not rendered (no requests to
 * addresses chosen by the model), links open in a new tab without referrer or opener.
 * Code blocks are highlighted (code.js), TeX math is typeset with KaTeX (math.js, tex.js).
 */
import MarkdownIt from 'markdown-it'
import { codePlugin } from './code.js'
import { mathPlugin } from './math.js'
import { renderTex } from './tex.js'

const md = new MarkdownIt({
	html: false,
	linkify: true,
	breaks: false,
	typographer: false,
})

md.disable(['image'])
md.use(mathPlugin, { render: renderTex })
md.use(codePlugin)

const defaultLinkOpen = md.renderer.rules.link_open
	|| ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options))

md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
	const token = tokens[idx]
	token.attrSet('target', '_blank')
	token.attrSet('rel', 'noopener noreferrer nofollow')
	return defaultLinkOpen(tokens, idx, options, env, self)
}

// Wrap tables so wide ones scroll sideways instead of breaking the layout (or their words).
md.renderer.rules.table_open = () => '<div class="as-md-table" tabindex="0"><table>\n'
md.renderer.rules.table_close = () => '</table></div>\n'

/**
 * @param {string} text Markdown from the model
 * @return {string} safe HTML
 */
export function renderMarkdown(text) {
	return md.render(text || '')
}

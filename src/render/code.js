/**
 * Code blocks: highlighted by highlight.js, under a bar with the language and a Copy button (the click
 * is handled by MessageContent). A language outside the main bundle is an extra: first the index of
 * names and aliases (js/assistant_stream-hl-index.js), then the language (js/assistant_stream-hl-<name>.js);
 * until it is there the block shows plain, and the page renders again when it arrives.
 */
import { t } from '@nextcloud/l10n'
import { APP_ID } from '../config.js'
import { extraNow, loadExtra } from '../extras/loader.js'
import { escapeHtml } from './escape.js'
import { hljs } from './languages.js'

/** mdi "content-copy" */
const COPY_ICON = '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path fill="currentColor" d="M19,21H8V7H19M19,5H8A2,2 0 0,0 6,7V21A2,2 0 0,0 8,23H19A2,2 0 0,0 21,21V7A2,2 0 0,0 19,5M16,1H4A2,2 0 0,0 2,3V17H4V3H16V1Z"/></svg>'

/**
 * @param {string} lang a language name or alias, lower case
 * @return {string|null} the registered language's name, or null (maybe loading)
 */
function languageOf(lang) {
	if (!lang) {
		return null
	}
	if (hljs.getLanguage(lang)) {
		return lang
	}
	const index = extraNow('hl-index')
	if (index === undefined) {
		loadExtra('hl-index')
		return null
	}
	const name = index && Object.hasOwn(index, lang) ? index[lang] : null
	if (!name) {
		return null
	}
	const language = extraNow('hl-' + name)
	if (language === undefined) {
		loadExtra('hl-' + name)
		return null
	}
	if (!hljs.getLanguage(name)) {
		hljs.registerLanguage(name, language)
	}
	return name
}

/**
 * @param {string} code the code
 * @param {string} lang the language the block names ('' for none)
 * @return {string} safe HTML of the code, highlighted when the language is known
 */
export function highlight(code, lang) {
	const name = languageOf(lang)
	if (name) {
		try {
			return hljs.highlight(code, { language: name, ignoreIllegals: true }).value
		} catch {
			// fall back to plain text
		}
	}
	return escapeHtml(code)
}

/**
 * @param {string} code the code
 * @param {string} lang its language, lower case ('' for none)
 * @return {string} the code block's HTML
 */
export function renderCodeBlock(code, lang) {
	const label = lang || t(APP_ID, 'text')
	const copy = t(APP_ID, 'Copy code')
	return '<div class="as-code" data-test="code-block" data-lang="' + escapeHtml(lang) + '">'
		+ '<div class="as-code__bar">'
		+ `<span class="as-code__lang" data-test="code-lang">${escapeHtml(label)}</span>`
		+ `<button type="button" class="as-code__copy" data-test="copy-code" title="${escapeHtml(copy)}">`
		+ `${COPY_ICON}<span class="as-code__copy-label">${escapeHtml(t(APP_ID, 'Copy'))}</span></button>`
		+ '</div>'
		+ `<pre tabindex="0"><code class="hljs${lang ? ' language-' + escapeHtml(lang) : ''}">${highlight(code, lang)}</code></pre>`
		+ '</div>\n'
}

/**
 * @param {object} md a MarkdownIt: its fenced and indented code blocks become renderCodeBlock()
 */
export function codePlugin(md) {
	md.renderer.rules.fence = (tokens, idx) => {
		const info = md.utils.unescapeAll(tokens[idx].info || '').trim()
		const lang = (info.split(/\s+/)[0] || '').toLowerCase().replace(/[^a-z0-9_+#.-]/g, '')
		return renderCodeBlock(tokens[idx].content, lang)
	}
	md.renderer.rules.code_block = (tokens, idx) => renderCodeBlock(tokens[idx].content, '')
}

/**
 * A markdown-it plugin that finds TeX math and hands it to a renderer: `$…$` and `\(…\)` inline,
 * `$$…$$` and `\[…\]` inline or as blocks. Written here rather than taken from a markdown-it-katex
 * package because those import KaTeX itself, which must stay out of the main bundle (it is loaded
 * on demand, see extras/loader.js).
 *
 * Money is not math: as in Pandoc, a single `$` opens only before a non-space and closes only after a
 * non-space and not before a digit; and the next `$` must be the one that closes, so "$5 and $6" and
 * "$5 and $6, and $x$" stay text where they are money.
 */

const DOLLAR = 0x24
const BACKSLASH = 0x5c

/**
 * @param {number} code a char code
 * @return {boolean} white space (or none: end of text)
 */
const isBlank = (code) => Number.isNaN(code) || code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d

/**
 * @param {number} code a char code
 * @return {boolean} an ASCII digit
 */
const isDigit = (code) => code >= 0x30 && code <= 0x39

/**
 * Where the single `$` that closes the one at `open` is; -1 when none. The next unescaped `$` must
 * close it (so "$5 and $6" is not one formula), and only a `$` after a non-space and not before a
 * digit closes.
 *
 * @param {string} src the text
 * @param {number} open index of the opening `$`
 * @param {number} max end of the inline text
 * @return {number} index of the closing `$`
 */
function closingDollar(src, open, max) {
	if (isBlank(src.charCodeAt(open + 1))) {
		return -1
	}
	for (let i = open + 1; i < max; i++) {
		const code = src.charCodeAt(i)
		if (code === BACKSLASH) {
			i++ // \$ inside math is a literal dollar
		} else if (code === DOLLAR) {
			const closes = i > open + 1 && !isBlank(src.charCodeAt(i - 1)) && !isDigit(src.charCodeAt(i + 1))
				&& src.charCodeAt(i + 1) !== DOLLAR
			return closes ? i : -1
		}
	}
	return -1
}

/**
 * @param {object} state markdown-it's inline state
 * @param {boolean} silent only check
 * @return {boolean} whether math starts here
 */
function mathInline(state, silent) {
	const { src, pos, posMax: max } = state
	const first = src.charCodeAt(pos)
	let content
	let display
	let end // index after the closing delimiter
	if (first === DOLLAR && src.charCodeAt(pos + 1) === DOLLAR) {
		const close = src.indexOf('$$', pos + 2)
		if (close === -1 || close >= max || close === pos + 2) {
			return false
		}
		content = src.slice(pos + 2, close)
		display = true
		end = close + 2
	} else if (first === DOLLAR) {
		if (pos > 0 && src.charCodeAt(pos - 1) === BACKSLASH) {
			return false
		}
		const close = closingDollar(src, pos, max)
		if (close === -1) {
			return false
		}
		content = src.slice(pos + 1, close)
		display = false
		end = close + 1
	} else if (first === BACKSLASH && (src[pos + 1] === '(' || src[pos + 1] === '[')) {
		const closer = src[pos + 1] === '(' ? '\\)' : '\\]'
		const close = src.indexOf(closer, pos + 2)
		if (close === -1 || close >= max || !src.slice(pos + 2, close).trim()) {
			return false
		}
		content = src.slice(pos + 2, close)
		display = closer === '\\]'
		end = close + 2
	} else {
		return false
	}
	if (!silent) {
		const token = state.push('math_inline', 'math', 0)
		token.content = content.trim()
		token.meta = { display }
	}
	state.pos = end
	return true
}

/**
 * A block of math: a paragraph that starts with `$$` or `\[` and ends with `$$` or `\]`.
 *
 * @param {object} state markdown-it's block state
 * @param {number} startLine first line
 * @param {number} endLine last line (exclusive)
 * @param {boolean} silent only check
 * @return {boolean} whether a math block starts here
 */
function mathBlock(state, startLine, endLine, silent) {
	const start = state.bMarks[startLine] + state.tShift[startLine]
	if (state.sCount[startLine] - state.blkIndent >= 4) {
		return false // an indented code block
	}
	const head = state.src.slice(start, start + 2)
	const closer = head === '$$' ? '$$' : head === '\\[' ? '\\]' : null
	if (!closer) {
		return false
	}
	let line = startLine
	let text = state.src.slice(start + 2, state.eMarks[startLine])
	let close = text.indexOf(closer)
	while (close === -1) {
		line++
		if (line >= endLine || (state.sCount[line] < state.blkIndent)) {
			return false // never closed (yet: a streaming answer closes it later)
		}
		const lineText = state.src.slice(state.bMarks[line] + state.tShift[line], state.eMarks[line])
		const at = lineText.indexOf(closer)
		text += '\n' + lineText
		if (at !== -1) {
			close = text.length - lineText.length + at
		}
	}
	if (text.slice(close + 2).trim() !== '') {
		return false // text after the closing delimiter: inline math inside a paragraph
	}
	if (silent) {
		return true
	}
	state.line = line + 1
	const token = state.push('math_block', 'math', 0)
	token.block = true
	token.content = text.slice(0, close).trim()
	token.map = [startLine, state.line]
	token.markup = head
	return true
}

/**
 * @param {object} md a MarkdownIt
 * @param {object} options the renderer
 * @param {(tex: string, display: boolean) => string} options.render safe HTML of one formula
 */
export function mathPlugin(md, { render }) {
	md.inline.ruler.before('escape', 'math_inline', mathInline)
	md.block.ruler.before('fence', 'math_block', mathBlock, { alt: ['paragraph', 'reference', 'blockquote', 'list'] })
	md.renderer.rules.math_inline = (tokens, idx) => render(tokens[idx].content, tokens[idx].meta.display)
	md.renderer.rules.math_block = (tokens, idx) => render(tokens[idx].content, true) + '\n'
}

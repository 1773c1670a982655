/** HTML escaping for the few strings the renderers put into markup themselves. */

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/**
 * @param {string} text any text
 * @return {string} the text, safe inside an element or a quoted attribute
 */
export function escapeHtml(text) {
	return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c])
}

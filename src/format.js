/**
 * Numbers and times of a message, in the user's words.
 */
import { n, t } from '@nextcloud/l10n'
import { APP_ID } from './config.js'

/**
 * @param {unknown} value a field of a message
 * @return {boolean} whether it is null or absent
 */
const missing = (value) => value === null || value === undefined

/**
 * @param {number|null} tps tokens per second
 * @return {string} e.g. "41.2 tokens/s"
 */
export function formatTps(tps) {
	if (missing(tps) || !Number.isFinite(Number(tps))) {
		return ''
	}
	return t(APP_ID, '{rate} tokens/s', { rate: Number(tps).toFixed(1) })
}

/**
 * @param {object|null} usage { prompt_tokens, completion_tokens, total_tokens }
 * @return {string} a short usage line, '' when unknown
 */
export function formatUsage(usage) {
	if (!usage || missing(usage.total_tokens)) {
		return ''
	}
	const total = n(APP_ID, '%n token', '%n tokens', Number(usage.total_tokens))
	if (missing(usage.prompt_tokens) || missing(usage.completion_tokens)) {
		return total
	}
	return t(APP_ID, '{total} ({prompt} in, {completion} out)', {
		total,
		prompt: usage.prompt_tokens,
		completion: usage.completion_tokens,
	})
}

/**
 * @param {number|null} timestamp unix seconds
 * @return {string} local time
 */
export function formatTime(timestamp) {
	if (!timestamp) {
		return ''
	}
	const date = new Date(Number(timestamp) * 1000)
	const sameDay = date.toDateString() === new Date().toDateString()
	return sameDay
		? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
		: date.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })
}

/**
 * @param {object} message a Message
 * @return {object|null} usage from the message's columns
 */
export function usageOf(message) {
	if (!message || missing(message.total_tokens)) {
		return null
	}
	return {
		prompt_tokens: message.prompt_tokens,
		completion_tokens: message.completion_tokens,
		total_tokens: message.total_tokens,
	}
}

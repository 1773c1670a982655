/**
 * Thin client for the chat routes of docs/api.md. Every function returns the
 * response body or throws a normalised error ({ message, code, status, advice }).
 */
import axios from '@nextcloud/axios'
import { generateUrl } from '@nextcloud/router'
import { t } from '@nextcloud/l10n'
import { APP_ID, getConfig } from './config.js'
import { makeError } from './errors.js'

/**
 * @return {string} base URL of the ExApp's routes, without trailing slash
 */
export function apiBase() {
	const { apiBase: base } = getConfig()
	if (typeof base === 'string') {
		return base.replace(/\/+$/, '')
	}
	return generateUrl('/apps/app_api/proxy/assistant_stream')
}

/**
 * @param {string} path route path starting with '/'
 * @return {string} absolute-path URL
 */
export function url(path) {
	return apiBase() + path
}

/**
 * @param {unknown} e an axios error or anything thrown
 * @return {object} normalised error
 */
export function toApiError(e) {
	if (e && typeof e === 'object' && 'advice' in e && 'code' in e) {
		return e // already normalised
	}
	if (axios.isCancel?.(e) || e?.name === 'CanceledError' || e?.name === 'AbortError') {
		const err = makeError({ message: 'aborted', code: 'aborted' })
		err.aborted = true
		return err
	}
	const response = e?.response
	if (!response) {
		return makeError({ message: e?.message || '', code: 'network' })
	}
	const data = response.data
	const status = response.status
	const headers = response.headers || {}
	const retryAfter = Number(typeof headers.get === 'function' ? headers.get('retry-after') : headers['retry-after']) || null
	if (data && typeof data === 'object' && (data.code || data.error)) {
		return makeError({
			message: typeof data.error === 'string' ? data.error : '',
			code: data.code || (status === 429 ? 'rate_limited' : 'unknown'),
			status,
			retryAfter,
		})
	}
	let code = 'unknown'
	if (status === 401) code = 'not_authenticated'
	else if (status === 404) code = 'not_found'
	else if (status === 429) code = 'rate_limited'
	else if (status === 502 || status === 503 || status === 504) code = 'app_unavailable'
	return makeError({
		message: t(APP_ID, 'The server answered with HTTP status {status}.', { status }),
		code,
		status,
		retryAfter,
	})
}

async function request(method, path, { params, data, signal, timeout } = {}) {
	try {
		const response = await axios.request({
			method,
			url: url(path),
			params,
			data,
			signal,
			timeout,
			headers: { Accept: 'application/json' },
		})
		return response.data
	} catch (e) {
		throw toApiError(e)
	}
}

// --- sessions -------------------------------------------------------------------------------------

export const newSession = (title = null) => request('PUT', '/chat/new_session', {
	data: { ...(title ? { title } : {}), timestamp: Math.floor(Date.now() / 1000) },
}).then((body) => body.session)

export const updateSession = (sessionId, title) => request('PATCH', '/chat/update_session', { data: { sessionId, title } })

export const deleteSession = (sessionId) => request('DELETE', '/chat/delete_session', { data: { sessionId }, params: { sessionId } })

export const getSessions = () => request('GET', '/chat/sessions')

export const checkSession = (sessionId) => request('GET', '/chat/check_session', { params: { sessionId } })

// --- messages -------------------------------------------------------------------------------------

export const newMessage = (sessionId, content, firstHumanMessage = false) => request('PUT', '/chat/new_message', {
	data: { sessionId, role: 'human', content, timestamp: Math.floor(Date.now() / 1000), firstHumanMessage },
})

export const deleteMessage = (sessionId, messageId) => request('DELETE', '/chat/delete_message', {
	data: { sessionId, messageId }, params: { sessionId, messageId },
})

export const getMessages = (sessionId, { limit = 20, cursor = 0 } = {}) => request('GET', '/chat/messages', {
	params: { sessionId, limit, cursor },
})

export const getMessage = (sessionId, messageId) => request('GET', '/chat/message', { params: { sessionId, messageId } })

// --- generation -----------------------------------------------------------------------------------

export const generate = (sessionId) => request('POST', '/chat/generate', { data: { sessionId } })

export const regenerate = (sessionId, messageId) => request('GET', '/chat/regenerate', { params: { sessionId, messageId } })

/**
 * GET /chat/check_generation: 200 final message, 417 running, 400 failed.
 *
 * @return {Promise<{state: 'done'|'running'|'failed', message: object|null, text: string}>}
 */
export async function checkGeneration(sessionId, taskId) {
	try {
		const message = await request('GET', '/chat/check_generation', { params: { taskId, sessionId } })
		return { state: 'done', message, text: message?.content || '' }
	} catch (e) {
		if (e.status === 417) {
			return { state: 'running', message: null, text: '' }
		}
		throw e
	}
}

export const generateTitle = (sessionId) => request('POST', '/chat/generate_title', { data: { sessionId } })

export const checkTitleGeneration = (sessionId, taskId) => request('GET', '/chat/check_title_generation', {
	params: { taskId, sessionId },
})

export const stop = (sessionId, messageId) => request('POST', '/chat/stop', { data: { sessionId, messageId } })

export const getClientConfig = () => request('GET', '/chat/config')

/**
 * GET /chat/poll, the long-poll (always through apiBase, which works behind buffering proxies).
 *
 * @param {object} params { sessionId, messageId | taskId | title, cursor, rcursor, timeout }
 * @param {AbortSignal} [signal] abort signal
 */
export const poll = (params, signal) => request('GET', '/chat/poll', {
	params: { timeout: 25, ...params },
	signal,
	// The server answers at `timeout`; give the proxy some slack before giving up on a request.
	timeout: ((params.timeout ?? 25) + 20) * 1000,
})

export const streamToken = (sessionId, messageId) => request('POST', '/chat/stream_token', { data: { sessionId, messageId } })

// --- admin ----------------------------------------------------------------------------------------

export const adminStatus = () => request('GET', '/admin/status')

export const adminTestConnection = () => request('POST', '/admin/test_connection', { timeout: 60000 })

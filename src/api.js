/**
 * Thin client for the chat routes of docs/api.md. Every function returns the
 * response body or throws a normalised error ({ message, code, status, advice }).
 */
import axios from '@nextcloud/axios'
import { t } from '@nextcloud/l10n'
import { generateUrl } from '@nextcloud/router'
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

/** The code of an error response without a body of ours (e.g. from a proxy), by HTTP status. */
const CODE_OF_STATUS = Object.freeze({
	401: 'not_authenticated',
	404: 'not_found',
	429: 'rate_limited',
	502: 'app_unavailable',
	503: 'app_unavailable',
	504: 'app_unavailable',
})

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
			// the server sends its detail to administrators only
			detail: typeof data.detail === 'string' ? data.detail : '',
		})
	}
	const code = CODE_OF_STATUS[status] ?? 'unknown'
	return makeError({
		message: t(APP_ID, 'The server answered with HTTP status {status}.', { status }),
		code,
		status,
		retryAfter,
	})
}

/**
 * @param {string} method HTTP method
 * @param {string} path route path starting with '/'
 * @param {object} [options] the request
 * @param {object} [options.params] query parameters
 * @param {object} [options.data] JSON body
 * @param {AbortSignal} [options.signal] aborts the request
 * @param {number} [options.timeout] milliseconds before giving up
 * @param {boolean} [options.keepalive] the request must outlive the page (sent while it unloads)
 * @return {Promise<object>} the response body; rejects with a normalised error
 */
async function request(method, path, { params, data, signal, timeout, keepalive = false } = {}) {
	try {
		const response = await axios.request({
			method,
			url: url(path),
			params,
			data,
			signal,
			timeout,
			headers: { Accept: 'application/json' },
			...(keepalive ? { adapter: 'fetch', fetchOptions: { keepalive: true } } : {}),
		})
		return response.data
	} catch (e) {
		throw toApiError(e)
	}
}

/** @return {number} the time now in unix seconds, as the routes take it */
const now = () => Math.floor(Date.now() / 1000)

// --- sessions -------------------------------------------------------------------------------------

/**
 * @param {string|null} [title] the new session's title (none: titled by its first question)
 * @return {Promise<object>} the session
 */
export function newSession(title = null) {
	return request('PUT', '/chat/new_session', { data: { ...(title ? { title } : {}), timestamp: now() } })
		.then((body) => body.session)
}

export const updateSession = (sessionId, title) => request('PUT', '/chat/update_session', { data: { sessionId, title } })

export const deleteSession = (sessionId) => request('DELETE', '/chat/delete_session', { data: { sessionId }, params: { sessionId } })

/**
 * @param {object} [options] which
 * @param {string} [options.q] only those whose title or messages contain this (full-text search)
 * @return {Promise<object[]>} the sessions, the most recently active first
 */
export const getSessions = ({ q } = {}) => request('GET', '/chat/sessions', q ? { params: { q } } : {})

export const checkSession = (sessionId) => request('GET', '/chat/check_session', { params: { sessionId } })

// --- messages -------------------------------------------------------------------------------------

/**
 * @param {number} sessionId the session
 * @param {string} content the question
 * @param {boolean} [firstHumanMessage] whether it is the session's first (the server titles the session with it)
 * @param {number[]} [attachments] ids of files attached with attachFile / uploadFile
 * @return {Promise<object>} the stored message
 */
export function newMessage(sessionId, content, firstHumanMessage = false, attachments = []) {
	return request('PUT', '/chat/new_message', {
		data: { sessionId, role: 'human', content, timestamp: now(), firstHumanMessage, attachments },
	})
}

/**
 * @param {number} sessionId the session
 * @param {number} messageId the message to delete (a question: with its answers)
 * @param {object} [options] how
 * @param {boolean} [options.keepalive] sent while the page unloads
 * @return {Promise<object>} the server's answer
 */
export function deleteMessage(sessionId, messageId, { keepalive = false } = {}) {
	return request('DELETE', '/chat/delete_message', { data: { sessionId, messageId }, params: { sessionId, messageId }, keepalive })
}

/**
 * @param {number} sessionId the session
 * @param {object} [page] which messages
 * @param {number} [page.limit] how many at most
 * @param {number} [page.cursor] how many of the newest to skip
 * @return {Promise<object[]>} the messages, oldest first
 */
export function getMessages(sessionId, { limit = 20, cursor = 0 } = {}) {
	return request('GET', '/chat/messages', { params: { sessionId, limit, cursor } })
}

export const getMessage = (sessionId, messageId) => request('GET', '/chat/message', { params: { sessionId, messageId } })

// --- generation -----------------------------------------------------------------------------------

export const regenerate = (sessionId, messageId) => request('GET', '/chat/regenerate', { params: { sessionId, messageId } })

export const generateTitle = (sessionId, signal) => request('POST', '/chat/generate_title', { data: { sessionId }, signal })

/**
 * @param {number} sessionId the session
 * @param {number} taskId the title's task (POST /chat/generate_title)
 * @param {AbortSignal} [signal] aborts the request
 * @return {Promise<object>} { sessionTitle } once the title is done; rejects with status 417 while it runs
 */
export function checkTitleGeneration(sessionId, taskId, signal) {
	return request('GET', '/chat/check_title_generation', { params: { taskId, sessionId }, signal })
}

export const stop = (sessionId, messageId) => request('POST', '/chat/stop', { data: { sessionId, messageId } })

/**
 * GET /chat/poll, the long-poll (always through apiBase, which works behind buffering proxies).
 *
 * @param {object} params { sessionId, messageId | taskId | title, cursor, rcursor, timeout }
 * @param {AbortSignal} [signal] abort signal
 * @return {Promise<object>} the poll response (docs/api.md)
 */
export function poll(params, signal) {
	return request('GET', '/chat/poll', {
		params: { timeout: 25, ...params },
		signal,
		// The server answers at `timeout`; give the proxy some slack before giving up on a request.
		timeout: ((params.timeout ?? 25) + 20) * 1000,
	})
}

export const streamToken = (sessionId, messageId) => request('POST', '/chat/stream_token', { data: { sessionId, messageId } })

// --- admin ----------------------------------------------------------------------------------------

export const adminStatus = () => request('GET', '/admin/status')

/** The ClientConfig as this user's (isAdmin: the page's initial state is the same for every user). */
export const userConfig = () => request('GET', '/chat/config')

/**
 * @param {string|null} [connectionId] the connection to test (default: the first, which gives new conversations their model)
 * @return {Promise<object>} { ok, summary, checks }
 */
export const adminTestConnection = (connectionId = null) => request('POST', '/admin/test_connection', { data: connectionId ? { connectionId } : undefined, timeout: 60000 })

// --- attachments and "Ask my documents" -----------------------------------------------------------

/**
 * @param {number} sessionId the conversation
 * @param {string} path the file in the user's Nextcloud (as the Files picker gives it)
 * @param {AbortSignal} [signal] abort signal
 * @return {Promise<object>} the Attachment
 */
export function attachFile(sessionId, path, signal) {
	return request('POST', '/chat/attach_file', {
		data: { sessionId, path },
		signal,
		timeout: 120000,
	})
}

/**
 * The file is the request body; its name goes in the query.
 *
 * @param {number} sessionId the conversation
 * @param {File} file a file chosen on the device
 * @param {AbortSignal} [signal] abort signal
 * @return {Promise<object>} the Attachment
 */
export async function uploadFile(sessionId, file, signal) {
	try {
		const response = await axios.post(url('/chat/upload_file'), file, {
			params: { sessionId, name: file.name },
			headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json' },
			signal,
			timeout: 120000,
		})
		return response.data
	} catch (e) {
		throw toApiError(e)
	}
}

/**
 * @param {number} attachmentId a file attached to a message not sent yet
 * @return {Promise<object>} the server's answer
 */
export function deleteAttachment(attachmentId) {
	return request('DELETE', '/chat/delete_attachment', {
		data: { attachmentId },
		params: { attachmentId },
	})
}

export const getDocuments = () => request('GET', '/chat/documents')

// --- versions, model choice, presets, export (docs/api.md) ----------------------------------------------

/**
 * @param {number} sessionId the session
 * @param {number} messageId the question to edit
 * @param {string} content its new text
 * @return {Promise<object>} the new version of the question (stream its answer as for a new one)
 */
export const editMessage = (sessionId, messageId, content) => request('POST', '/chat/edit_message', { data: { sessionId, messageId, content } })

/**
 * @param {number} sessionId the session
 * @param {number} messageId the version to show
 * @return {Promise<{messages: object[], more: boolean}>} the branch from that version on
 */
export const switchBranch = (sessionId, messageId) => request('POST', '/chat/switch_branch', { data: { sessionId, messageId } })

export const continueAnswer = (sessionId, messageId) => request('POST', '/chat/continue', { data: { sessionId, messageId } })

export const getModels = () => request('GET', '/chat/models')

export const getSessionOptions = (sessionId) => request('GET', '/chat/session_options', { params: { sessionId } })

/**
 * @param {number} sessionId the session
 * @param {object} changes any of { contextChat, connection, model, systemPrompt, temperature, maxTokens }; null: the default
 * @return {Promise<{session: object, options: object}>} the session, and its options (snake_case, as stored)
 */
export const setSessionOptions = (sessionId, changes) => request('PUT', '/chat/session_options', { data: { sessionId, ...changes } })

export const getPresets = () => request('GET', '/chat/presets')

export const savePreset = (preset) => request('PUT', '/chat/preset', { data: preset })

export const deletePreset = (id) => request('DELETE', '/chat/preset', { data: { id }, params: { id } })

/**
 * @param {number} sessionId the session
 * @param {string} format 'markdown' or 'json'
 * @return {Promise<{blob: Blob, name: string}>} the export file
 */
export async function exportConversation(sessionId, format) {
	try {
		const response = await axios.get(url('/chat/export'), { params: { sessionId, format }, responseType: 'blob' })
		const disposition = response.headers?.['content-disposition'] || ''
		const match = /filename\*=UTF-8''([^;]+)/.exec(disposition)
		return { blob: response.data, name: match ? decodeURIComponent(match[1]) : `conversation.${format === 'json' ? 'json' : 'md'}` }
	} catch (e) {
		// An error body arrives as a Blob too: read it so the message is the server's.
		const data = e?.response?.data
		if (data && typeof data.text === 'function') {
			try {
				e.response.data = JSON.parse(await data.text())
			} catch {
				// not JSON: the status says enough
			}
		}
		throw toApiError(e)
	}
}

// --- usage, budgets, activity, audit ------------------------------------------------------------

/** @return {Promise<object>} the caller's budgets: { budgets, remaining, resetsAt } */
export const myBudget = () => request('GET', '/chat/budget')

export const adminUsage = (days, by) => request('GET', '/admin/usage', { params: { days, by } })

/**
 * @param {number} days days up to today
 * @param {string} by user, group or model
 * @return {Promise<string>} the CSV text
 */
export async function adminUsageCsv(days, by) {
	try {
		const response = await axios.get(url('/admin/usage.csv'), { params: { days, by }, responseType: 'text', headers: { Accept: 'text/csv' } })
		return response.data
	} catch (e) {
		throw toApiError(e)
	}
}

export const adminActivity = () => request('GET', '/admin/activity')

export const adminBudgets = () => request('GET', '/admin/budgets')

export const adminSaveBudgets = (budgets, timezone) => request('PUT', '/admin/budgets', { data: { budgets, timezone } })

export const adminAudit = (limit = 50) => request('GET', '/admin/audit', { params: { limit } })

export const exportToFiles = (sessionId, format) => request('POST', '/chat/export_to_files', { data: { sessionId, format }, timeout: 60000 })

export const adminConnections = () => request('GET', '/admin/connections')

export const adminSaveConnections = (connections) => request('PUT', '/admin/connections', { data: { connections } })

export const adminFetchModels = (query) => request('POST', '/admin/fetch_models', { data: query, timeout: 60000 })

export const adminPresets = () => request('GET', '/admin/presets')

export const adminSavePresets = (presets) => request('PUT', '/admin/presets', { data: { presets } })

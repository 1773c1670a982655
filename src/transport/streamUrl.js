/**
 * Where the browser opens an answer's SSE stream, by delivery mode (docs/api.md, ClientConfig.delivery):
 *   'direct' -> apiBase + '/chat/stream?...'
 *   'harp'   -> getRootUrl() + streamBase + '/chat/stream?...'
 *   'public' -> POST /chat/stream_token once, then its URL
 */
import { getRootUrl } from '@nextcloud/router'
import * as api from '../api.js'
import { getConfig } from '../config.js'

/**
 * @param {number} sessionId the session
 * @param {number} humanId the human message being answered
 * @return {(lastEventId: string|null) => Promise<string>} the URL of a (re)connection; rejects when no stream token can be had
 */
export function streamUrlFor(sessionId, humanId) {
	let tokenUrl = null
	return async (lastEventId) => {
		const { mode, streamBase } = getConfig().delivery
		if (mode === 'public') {
			if (tokenUrl === null) {
				tokenUrl = (await api.streamToken(sessionId, humanId)).url
			}
			const u = new URL(tokenUrl, window.location.href)
			if (lastEventId) {
				u.searchParams.set('lastEventId', lastEventId)
			}
			return u.toString()
		}
		const base = mode === 'harp' && typeof streamBase === 'string' && streamBase !== ''
			? (streamBase.startsWith('/') ? getRootUrl() + streamBase : streamBase)
			: api.apiBase()
		const params = new URLSearchParams({ sessionId: String(sessionId), messageId: String(humanId) })
		if (lastEventId) {
			params.set('lastEventId', lastEventId)
		}
		return base.replace(/\/+$/, '') + '/chat/stream?' + params.toString()
	}
}

/**
 * ClientConfig (docs/api.md): read once from the initial state
 * (`loadState('app_api', 'config')`), with safe defaults when it is missing.
 */
import { loadState } from '@nextcloud/initial-state'
import { logger } from './logger.js'

export const APP_ID = 'assistant_stream'

const DEFAULTS = Object.freeze({
	appId: APP_ID,
	version: '',
	local: false,
	isAdmin: false,
	apiBase: null,
	delivery: { mode: 'poll', streamBase: null, reason: '' },
	engine: null,
	model: null,
})

let cached = null

/**
 * @return {object} the ClientConfig of this page
 */
export function getConfig() {
	if (cached === null) {
		let state = null
		try {
			state = loadState('app_api', 'config', null)
			// AppAPI 32/33 pass the stored JSON text to provideInitialState, which encodes it again: the page
			// then carries a JSON string holding the object.
			if (typeof state === 'string') {
				state = JSON.parse(state)
			}
		} catch (e) {
			logger.warn('could not read the initial state', { error: e })
		}
		const merged = { ...DEFAULTS, ...(state && typeof state === 'object' ? state : {}) }
		merged.delivery = { ...DEFAULTS.delivery, ...(merged.delivery || {}) }
		cached = merged
	}
	return cached
}

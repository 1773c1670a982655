/**
 * Turn error codes (docs/api.md, lib/assistant_stream/errors.py) into translated
 * sentences a user understands, plus what the administrator should check.
 */
import { t } from '@nextcloud/l10n'
import { APP_ID } from './config.js'

/**
 * @param {string|null} code stable error code from the server
 * @param {object} [extra] { retryAfter }
 * @return {{ title: string, advice: string }} translated title and advice ('' when none)
 */
export function describeCode(code, extra = {}) {
	switch (code) {
	case 'provider_auth':
		return {
			title: t(APP_ID, 'The AI provider rejected the API key.'),
			advice: t(APP_ID, 'Ask your administrator to check the API key in the Assistant Stream admin settings.'),
		}
	case 'provider_unreachable':
		return {
			title: t(APP_ID, 'The AI provider could not be reached.'),
			advice: t(APP_ID, 'Try again later. The administrator should check the provider URL and that the Assistant Stream app can reach it over the network.'),
		}
	case 'provider_unavailable':
		return {
			title: t(APP_ID, 'The AI provider is unavailable at the moment.'),
			advice: t(APP_ID, 'Try again in a few minutes. If it persists, the administrator should check the provider\'s status.'),
		}
	case 'provider_timeout':
		return {
			title: t(APP_ID, 'The AI provider did not answer in time.'),
			advice: t(APP_ID, 'Try again, perhaps with a shorter question. The administrator may check the provider\'s load and the timeout settings.'),
		}
	case 'provider_not_found':
		return {
			title: t(APP_ID, 'The AI provider URL or model was not found.'),
			advice: t(APP_ID, 'Ask your administrator to check the provider URL and the model name in the Assistant Stream admin settings.'),
		}
	case 'provider_rate_limited':
		return {
			title: t(APP_ID, 'The AI provider is limiting requests.'),
			advice: t(APP_ID, 'Wait a moment and try again. The administrator may check the quota of the provider account.'),
		}
	case 'provider_protocol':
		return {
			title: t(APP_ID, 'The AI provider sent an answer this app cannot read.'),
			advice: t(APP_ID, 'Ask your administrator to check that the provider URL points to an OpenAI-compatible API.'),
		}
	case 'provider_limit':
		return {
			title: t(APP_ID, 'The AI provider sent more data than allowed.'),
			advice: t(APP_ID, 'Try a shorter question. The administrator may check the provider and the size limits.'),
		}
	case 'provider_error':
		return {
			title: t(APP_ID, 'The AI provider failed to answer.'),
			advice: t(APP_ID, 'Try again. If it persists, ask your administrator to run "Test connection" in the Delivery check.'),
		}
	case 'not_configured':
		return {
			title: t(APP_ID, 'No AI provider is configured.'),
			advice: t(APP_ID, 'Ask your administrator to set the provider URL, API key and model in the Assistant Stream admin settings, or to install a Nextcloud text processing provider.'),
		}
	case 'rate_limited': {
		const seconds = Number(extra.retryAfter)
		return {
			title: t(APP_ID, 'You are sending requests too quickly.'),
			advice: Number.isFinite(seconds) && seconds > 0
				? t(APP_ID, 'Please wait {seconds} seconds and try again.', { seconds: Math.ceil(seconds) })
				: t(APP_ID, 'Please wait a moment and try again.'),
		}
	}
	case 'session_already_thinking':
		return {
			title: t(APP_ID, 'An answer is already being generated in this conversation.'),
			advice: t(APP_ID, 'Wait for it to finish or stop it first.'),
		}
	case 'storage_unavailable':
		return {
			title: t(APP_ID, 'The chat history storage is not available.'),
			advice: t(APP_ID, 'Try again shortly. The administrator should check the database and the persistent storage of the Assistant Stream app.'),
		}
	case 'nextcloud_error':
		return {
			title: t(APP_ID, 'The Assistant Stream app could not reach Nextcloud.'),
			advice: t(APP_ID, 'The administrator should check the Nextcloud URL the app uses and its network access.'),
		}
	case 'not_authenticated':
		return {
			title: t(APP_ID, 'You are not logged in any more.'),
			advice: t(APP_ID, 'Reload the page and log in again.'),
		}
	case 'not_found':
		return {
			title: t(APP_ID, 'This conversation or message does not exist any more.'),
			advice: t(APP_ID, 'Reload the page.'),
		}
	case 'too_large':
		return {
			title: t(APP_ID, 'The message is too long.'),
			advice: t(APP_ID, 'Shorten it and try again.'),
		}
	case 'network':
		return {
			title: t(APP_ID, 'The server could not be reached.'),
			advice: t(APP_ID, 'Check your connection and try again. If it persists, the administrator should check that the Assistant Stream app is running.'),
		}
	case 'app_unavailable':
		return {
			title: t(APP_ID, 'The Assistant Stream app is not responding.'),
			advice: t(APP_ID, 'Try again shortly. The administrator should check that the app is running and enabled in AppAPI.'),
		}
	default:
		return { title: '', advice: '' }
	}
}

/**
 * Build the normalised error object used everywhere in the UI.
 *
 * @param {object} parts { message, code, status, retryAfter }
 * @return {{message: string, code: string, status: number|null, advice: string, retryAfter: number|null, serverMessage: string}}
 */
export function makeError({ message = '', code = 'unknown', status = null, retryAfter = null } = {}) {
	const described = describeCode(code, { retryAfter })
	return {
		message: described.title || message || t(APP_ID, 'Something went wrong.'),
		serverMessage: message || '',
		code,
		status,
		advice: described.advice,
		retryAfter,
	}
}

/**
 * The one table from the server's error codes (docs/api.md, lib/assistant_stream/core/errors.py) to
 * sentences a user understands, plus what to do about it. One line per code in each table, as
 * `code: t('assistant_stream', '...')`: a server test checks that every code it can send has a title.
 */
import { t } from '@nextcloud/l10n'

/**
 * What went wrong, by code. Built on use, so that translations registered after this module loaded apply.
 *
 * @return {Record<string, string>} code -> title
 */
function titles() {
	return {
		provider_auth: t('assistant_stream', 'The AI provider rejected the API key.'),
		provider_unreachable: t('assistant_stream', 'The AI provider could not be reached.'),
		provider_dropped: t('assistant_stream', 'The connection to the AI provider broke off mid-answer.'),
		provider_unavailable: t('assistant_stream', 'The AI provider is unavailable at the moment.'),
		provider_timeout: t('assistant_stream', 'The AI provider did not answer in time.'),
		provider_not_found: t('assistant_stream', 'The AI provider URL or model was not found.'),
		provider_rate_limited: t('assistant_stream', 'The AI provider is limiting requests.'),
		provider_protocol: t('assistant_stream', 'The AI provider sent an answer this app cannot read.'),
		provider_limit: t('assistant_stream', 'The AI provider sent more data than allowed.'),
		provider_error: t('assistant_stream', 'The AI provider failed to answer.'),
		not_configured: t('assistant_stream', 'No AI provider is configured.'),
		rate_limited: t('assistant_stream', 'You are sending requests too quickly.'),
		session_already_thinking: t('assistant_stream', 'An answer is already being generated in this conversation.'),
		storage_unavailable: t('assistant_stream', 'The chat history storage is not available.'),
		nextcloud_error: t('assistant_stream', 'The Assistant Stream app could not reach Nextcloud.'),
		not_authenticated: t('assistant_stream', 'You are not logged in any more.'),
		not_found: t('assistant_stream', 'This conversation or message does not exist any more.'),
		too_large: t('assistant_stream', 'The message is too long.'),
		internal_error: t('assistant_stream', 'Something went wrong in the Assistant Stream app.'),
		bad_request: t('assistant_stream', 'The request was not understood.'),
		missing_parameter: t('assistant_stream', 'The request was incomplete.'),
		invalid_parameter: t('assistant_stream', 'The request contained an invalid value.'),
		invalid_json: t('assistant_stream', 'The request was not understood.'),
		empty_message: t('assistant_stream', 'The message is empty.'),
		no_public_url: t('assistant_stream', 'Live streaming through a public URL is not set up.'),
		invalid_token: t('assistant_stream', 'The link for live streaming has expired.'),
		message_not_found: t('assistant_stream', 'This message does not exist any more.'),
		nothing_to_title: t('assistant_stream', 'There is nothing to make a title from yet.'),
		http_404: t('assistant_stream', 'This address does not exist in the Assistant Stream app.'),
		http_405: t('assistant_stream', 'This action is not supported by the Assistant Stream app.'),
		too_long: t('assistant_stream', 'The text is too long.'),
		too_many_generations: t('assistant_stream', 'You already have several answers being generated.'),
		budget_exceeded: t('assistant_stream', 'Your token budget is used up.'),
		shutting_down: t('assistant_stream', 'The Assistant Stream app is restarting.'),
		generation_failed: t('assistant_stream', 'This answer failed.'),
		file_too_large: t('assistant_stream', 'The file is too large.'),
		file_type_unsupported: t('assistant_stream', 'This type of file cannot be read.'),
		file_rejected: t('assistant_stream', 'The file cannot be used.'),
		vision_unsupported: t('assistant_stream', 'The model cannot see images.'),
		model_not_allowed: t('assistant_stream', 'This model is not available.'),
		cannot_continue: t('assistant_stream', 'This answer cannot be continued.'),
		network: t('assistant_stream', 'The server could not be reached.'),
		app_unavailable: t('assistant_stream', 'The Assistant Stream app is not responding.'),
	}
}

/**
 * What the user, or the administrator, can do about it, by code.
 *
 * @return {Record<string, string>} code -> advice
 */
function advice() {
	return {
		provider_auth: t('assistant_stream', 'Ask your administrator to check the API key in the Assistant Stream admin settings.'),
		provider_unreachable: t('assistant_stream', 'Try again later. The administrator should check the provider URL and that the Assistant Stream app can reach it over the network.'),
		provider_dropped: t('assistant_stream', 'The text received so far is kept. Try again; if it keeps happening, the administrator should check the proxies and timeouts between the app and the provider.'),
		provider_unavailable: t('assistant_stream', 'Try again in a few minutes. If it persists, the administrator should check the provider\'s status.'),
		provider_timeout: t('assistant_stream', 'Try again, perhaps with a shorter question. The administrator may check the provider\'s load and the timeout settings.'),
		provider_not_found: t('assistant_stream', 'Ask your administrator to check the provider URL and the model name in the Assistant Stream admin settings.'),
		provider_rate_limited: t('assistant_stream', 'Wait a moment and try again. The administrator may check the quota of the provider account.'),
		provider_protocol: t('assistant_stream', 'Ask your administrator to check that the provider URL points to an OpenAI-compatible API.'),
		provider_limit: t('assistant_stream', 'Try a shorter question. The administrator may check the provider and the size limits.'),
		provider_error: t('assistant_stream', 'Try again. If it persists, ask your administrator to run "Test connection" in the Delivery check.'),
		not_configured: t('assistant_stream', 'Ask your administrator to set the provider URL, API key and model in the Assistant Stream admin settings, or to install a Nextcloud text processing provider.'),
		rate_limited: t('assistant_stream', 'Please wait a moment and try again.'),
		session_already_thinking: t('assistant_stream', 'Wait for it to finish or stop it first.'),
		storage_unavailable: t('assistant_stream', 'Try again shortly. The administrator should check the database and the persistent storage of the Assistant Stream app.'),
		nextcloud_error: t('assistant_stream', 'The administrator should check the Nextcloud URL the app uses and its network access.'),
		not_authenticated: t('assistant_stream', 'Reload the page and log in again.'),
		not_found: t('assistant_stream', 'Reload the page.'),
		too_large: t('assistant_stream', 'Shorten it and try again.'),
		internal_error: t('assistant_stream', 'Try again. If it persists, ask your administrator to check the app\'s log.'),
		bad_request: t('assistant_stream', 'Reload the page and try again.'),
		missing_parameter: t('assistant_stream', 'Reload the page and try again.'),
		invalid_parameter: t('assistant_stream', 'Reload the page and try again.'),
		invalid_json: t('assistant_stream', 'Reload the page and try again.'),
		empty_message: t('assistant_stream', 'Write something and send it again.'),
		no_public_url: t('assistant_stream', 'The answer is delivered another way; nothing to do.'),
		invalid_token: t('assistant_stream', 'Reload the page to get a new one.'),
		message_not_found: t('assistant_stream', 'Reload the page.'),
		nothing_to_title: t('assistant_stream', 'Send a message first.'),
		http_404: t('assistant_stream', 'Reload the page. If it persists, the app may need an update.'),
		http_405: t('assistant_stream', 'Reload the page. If it persists, the app may need an update.'),
		too_long: t('assistant_stream', 'Shorten it and try again.'),
		too_many_generations: t('assistant_stream', 'Wait for one of them to finish, or stop one.'),
		budget_exceeded: t('assistant_stream', 'It is available again when the budget resets. Ask your administrator if you need more.'),
		shutting_down: t('assistant_stream', 'Try again in a moment.'),
		generation_failed: t('assistant_stream', 'Regenerate it to try again.'),
		file_too_large: t('assistant_stream', 'Attach a smaller file, or only the part you need.'),
		file_type_unsupported: t('assistant_stream', 'Attach text, Markdown, CSV, JSON, source code, PDF, DOCX, ODT or an image.'),
		file_rejected: t('assistant_stream', 'Check the file (open it, save it again, remove a password) and attach it again.'),
		vision_unsupported: t('assistant_stream', 'Attach the text instead, or ask your administrator for a model that can see images.'),
		model_not_allowed: t('assistant_stream', 'Choose another model for this conversation.'),
		cannot_continue: t('assistant_stream', 'Only an answer that was cut off can be continued; regenerate it instead.'),
		network: t('assistant_stream', 'Check your connection and try again. If it persists, the administrator should check that the Assistant Stream app is running.'),
		app_unavailable: t('assistant_stream', 'Try again shortly. The administrator should check that the app is running and enabled in AppAPI.'),
	}
}

/**
 * @param {string|null} code stable error code from the server
 * @param {object} [extra] { retryAfter }
 * @return {{ title: string, advice: string }} translated title and advice ('' when none)
 */
export function describeCode(code, extra = {}) {
	const known = (table) => (Object.hasOwn(table, code) ? table[code] : '')
	const seconds = Number(extra.retryAfter)
	if (code === 'rate_limited' && Number.isFinite(seconds) && seconds > 0) {
		return {
			title: known(titles()),
			advice: t('assistant_stream', 'Please wait {seconds} seconds and try again.', { seconds: Math.ceil(seconds) }),
		}
	}
	if (code === 'budget_exceeded' && Number.isFinite(seconds) && seconds > 0) {
		const when = new Date(Date.now() + seconds * 1000).toLocaleString()
		return {
			title: known(titles()),
			advice: t('assistant_stream', 'The budget resets on {when}. Ask your administrator if you need more.', { when }),
		}
	}
	return { title: known(titles()), advice: known(advice()) }
}

/**
 * Build the normalised error object used everywhere in the UI.
 *
 * @param {object} [parts] what is known
 * @param {string} [parts.message] the server's own message
 * @param {string} [parts.code] stable error code
 * @param {number|null} [parts.status] HTTP status
 * @param {number|null} [parts.retryAfter] seconds the server asked to wait
 * @param {number|null} [parts.retryAt] when the wait ends (Date.now() milliseconds); default: retryAfter from now
 * @param {string} [parts.detail] internal detail for administrators (the server sends it to them only)
 * @return {{message: string, code: string, status: number|null, advice: string, retryAfter: number|null, retryAt: number|null, serverMessage: string, detail: string}}
 */
export function makeError({ message = '', code = 'unknown', status = null, retryAfter = null, retryAt = null, detail = '' } = {}) {
	const described = describeCode(code, { retryAfter })
	const seconds = Number(retryAfter)
	return {
		message: described.title || message || t('assistant_stream', 'Something went wrong.'),
		serverMessage: message || '',
		code,
		status,
		advice: described.advice,
		retryAfter,
		retryAt: retryAt ?? (Number.isFinite(seconds) && seconds > 0 ? Date.now() + seconds * 1000 : null),
		detail: detail || '',
	}
}

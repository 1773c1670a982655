/**
 * The page's one error banner: the error shown above the conversation and what "Try again" runs.
 */
import { shallowRef } from 'vue'

/**
 * @return {object} error and retry refs, show / clear / runRetry
 */
export function useErrorBanner() {
	const error = shallowRef(null)
	const retry = shallowRef(null)

	/**
	 * @param {object} e normalised API error (an aborted request is not shown)
	 * @param {(() => void)|null} [retryFn] what "Try again" runs, if anything
	 */
	function show(e, retryFn = null) {
		if (e?.aborted) {
			return
		}
		error.value = e
		retry.value = retryFn
	}

	/** Hide the banner. */
	function clear() {
		error.value = null
		retry.value = null
	}

	/** "Try again": hide the banner and run its retry. */
	function runRetry() {
		const fn = retry.value
		clear()
		if (fn) {
			fn()
		}
	}

	return { error, retry, show, clear, runRetry }
}

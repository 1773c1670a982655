/**
 * The delivery check's streaming test: a throwaway conversation whose answer is timed piece by
 * piece, to tell whether answers reach this browser incrementally, and by which transport.
 */
import { n, t } from '@nextcloud/l10n'
import { computed, ref } from 'vue'
import * as api from '../api.js'
import { APP_ID } from '../config.js'
import { Status } from '../status.js'
import { isSseKnownBroken, Transport } from '../transport/answerStream.js'
import { useGeneration } from './useGeneration.js'

/** Pieces of text that land in more than one such interval arrived incrementally. */
const BUCKET_MS = 100

/**
 * @param {number[]} arrivals arrival times (ms) of the pieces of text
 * @return {number} in how many distinct BUCKET_MS intervals they arrived
 */
export function distinctIntervals(arrivals) {
	return arrivals.length ? new Set(arrivals.map((a) => Math.floor((a - arrivals[0]) / BUCKET_MS))).size : 0
}

/**
 * @param {() => void} onSessionsChanged called after the test conversation was deleted again
 * @return {object} testing, result, progress, sseBroken refs and run()
 */
export function useStreamTest(onSessionsChanged) {
	const generation = useGeneration() // this test's own answer, let go when the dialog closes
	const testing = ref(false)
	const result = ref(null)
	const sseBroken = ref(isSseKnownBroken())

	const progress = computed(() => {
		switch (generation.status.value) {
			case Status.STREAMING: return t(APP_ID, 'Receiving the answer…')
			case Status.WAITING: return t(APP_ID, 'Waiting for the first token…')
			default: return t(APP_ID, 'Starting a test conversation…')
		}
	})

	/**
	 * @param {object} outcome what generation.start() settled with
	 * @return {object} the result card: { type, transport, incremental, text, advice }
	 */
	function describe(outcome) {
		const arrivals = generation.chunkArrivals()
		const buckets = distinctIntervals(arrivals)
		const incremental = buckets > 1
		const card = { transport: outcome.transport, incremental }
		if (outcome.status === Status.ERROR) {
			return {
				...card,
				type: 'error',
				text: outcome.error?.message || t(APP_ID, 'The test answer failed.'),
				advice: outcome.error?.advice || '',
			}
		}
		const via = outcome.transport === Transport.SSE ? t(APP_ID, 'Live (SSE)') : t(APP_ID, 'Polling')
		let advice
		if (incremental) {
			advice = t(APP_ID, 'The answer arrived incrementally: streaming works.')
		} else if (arrivals.length < 3) {
			advice = t(APP_ID, 'The answer was too short to tell whether it streamed. Try again.')
		} else {
			advice = t(APP_ID, 'The whole answer arrived at once: something between the app and the browser buffers responses. Use HaRP or expose a streaming URL.')
		}
		return {
			...card,
			type: incremental ? 'success' : 'warning',
			text: n(
				APP_ID,
				'Received %n piece of text in {buckets} distinct 100 ms intervals via {via}.',
				'Received %n pieces of text in {buckets} distinct 100 ms intervals via {via}.',
				arrivals.length,
				{ buckets, via },
			),
			advice,
		}
	}

	/** @return {Promise<void>} run the test; never rejects */
	async function run() {
		testing.value = true
		result.value = null
		let session = null
		try {
			session = await api.newSession(t(APP_ID, 'Delivery test'))
			const message = await api.newMessage(session.id, 'Say hello', true)
			const outcome = await generation.start(session.id, message.id)
			if (outcome.status !== Status.DETACHED) {
				result.value = describe(outcome)
			}
		} catch (e) {
			result.value = { type: 'error', transport: null, incremental: false, text: e.message, advice: e.advice || '' }
		} finally {
			sseBroken.value = isSseKnownBroken()
			if (session) {
				api.deleteSession(session.id).catch(() => {}).finally(onSessionsChanged)
			}
			testing.value = false
		}
	}

	return { testing, result, progress, sseBroken, run }
}

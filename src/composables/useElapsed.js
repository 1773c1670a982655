/**
 * Whole seconds since a moment, ticking once a second while it runs: "Thinking… 4 s".
 */
import { computed, getCurrentScope, onScopeDispose, ref, watch } from 'vue'

/**
 * @param {() => number|null} since when it started (Date.now() milliseconds), null: not started
 * @param {() => number|null} took how long it took once it ended (milliseconds), null: still running
 * @return {import('vue').ComputedRef<number|null>} whole seconds, null before it started
 */
export function useElapsed(since, took) {
	const now = ref(Date.now())
	let timer = null

	const stopTicking = () => {
		clearInterval(timer)
		timer = null
	}

	watch(() => since() !== null && took() === null, (running) => {
		if (running && timer === null) {
			now.value = Date.now()
			timer = setInterval(() => {
				now.value = Date.now()
			}, 1000)
		} else if (!running) {
			stopTicking()
		}
	}, { immediate: true })

	if (getCurrentScope()) {
		onScopeDispose(stopTicking)
	}

	return computed(() => {
		const start = since()
		const ms = took()
		if (ms !== null && ms !== undefined) {
			return Math.max(1, Math.round(ms / 1000)) // it did think: "Thought for 0 s" reads wrong
		}
		return start === null ? null : Math.max(0, Math.floor((now.value - start) / 1000))
	})
}

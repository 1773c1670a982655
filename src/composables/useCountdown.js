/**
 * Whole seconds left until a moment, ticking once a second until it is reached: "try again in 12 s".
 */
import { computed, getCurrentScope, onScopeDispose, ref, watch } from 'vue'

/**
 * @param {() => number|null} deadline when it ends (Date.now() milliseconds), null: no wait
 * @return {import('vue').ComputedRef<number>} seconds left, rounded up; 0 once it passed
 */
export function useCountdown(deadline) {
	const now = ref(Date.now())
	let timer = null

	const stopTicking = () => {
		clearInterval(timer)
		timer = null
	}

	const tick = () => {
		now.value = Date.now()
		const end = deadline()
		if (end === null || end === undefined || now.value >= end) {
			stopTicking()
		}
	}

	watch(deadline, (end) => {
		stopTicking()
		now.value = Date.now()
		if (end !== null && end !== undefined && end > now.value) {
			timer = setInterval(tick, 250) // 250 ms: the shown second changes on time, not up to 1 s late
		}
	}, { immediate: true })

	if (getCurrentScope()) {
		onScopeDispose(stopTicking)
	}

	return computed(() => {
		const end = deadline()
		return end === null || end === undefined ? 0 : Math.max(0, Math.ceil((end - now.value) / 1000))
	})
}

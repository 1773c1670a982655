/**
 * The statuses of an answer on this page (one frozen enum), the moves between them, and how
 * they map to and from the statuses the server stores on a message (docs/api.md).
 */

/** The status of the answer a useGeneration() shows. */
export const Status = Object.freeze({
	/** nothing to show */
	IDLE: 'idle',
	/** asked for the answer, heard nothing yet */
	CONNECTING: 'connecting',
	/** the server started the answer; no text yet */
	WAITING: 'waiting',
	/** text is arriving */
	STREAMING: 'streaming',
	DONE: 'done',
	CANCELLED: 'cancelled',
	ERROR: 'error',
	/** only the outcome of start() when the page let go of an answer the server goes on with; never a status value */
	DETACHED: 'detached',
})

/** The status of a stored message (Message.status) and of a long-poll response. */
export const MessageStatus = Object.freeze({
	GENERATING: 'generating',
	DONE: 'done',
	CANCELLED: 'cancelled',
	ERROR: 'error',
	INTERRUPTED: 'interrupted',
})

const ACTIVE = new Set([Status.CONNECTING, Status.WAITING, Status.STREAMING])

/**
 * Where each status may go next, besides staying and going back to IDLE (a reset): forward only,
 * so a late event can never take a finished answer back to streaming, nor text back to waiting.
 */
const NEXT = Object.freeze({
	[Status.IDLE]: [Status.CONNECTING],
	[Status.CONNECTING]: [Status.WAITING, Status.STREAMING, Status.DONE, Status.CANCELLED, Status.ERROR],
	[Status.WAITING]: [Status.STREAMING, Status.DONE, Status.CANCELLED, Status.ERROR],
	[Status.STREAMING]: [Status.DONE, Status.CANCELLED, Status.ERROR],
	[Status.DONE]: [],
	[Status.CANCELLED]: [],
	[Status.ERROR]: [],
})

/**
 * @param {string} status a Status
 * @return {boolean} whether the answer is still on its way
 */
export function isActive(status) {
	return ACTIVE.has(status)
}

/**
 * @param {string} from the current Status
 * @param {string} to the wanted Status
 * @return {boolean} whether the move is allowed
 */
export function canMove(from, to) {
	return from === to || (to === Status.IDLE && from in NEXT) || (NEXT[from] ?? []).includes(to)
}

/**
 * @param {string|undefined} messageStatus a MessageStatus (of a stored message or a poll response)
 * @return {string} the final Status it stands for: DONE, CANCELLED or ERROR
 */
export function finalStatus(messageStatus) {
	switch (messageStatus) {
		case MessageStatus.CANCELLED: return Status.CANCELLED
		case MessageStatus.ERROR: return Status.ERROR
		default: return Status.DONE
	}
}

/**
 * @param {string} status a Status
 * @return {string} the MessageStatus the answer being shown stands for (data-status of the streaming message)
 */
export function messageStatusOf(status) {
	return isActive(status) ? MessageStatus.GENERATING : status
}

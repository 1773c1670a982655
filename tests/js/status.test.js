import { describe, expect, test } from 'vitest'
import { canMove, finalStatus, isActive, MessageStatus, messageStatusOf, Status } from '../../src/status.js'

describe('Status', () => {
	test('is one frozen enum that cannot be changed at run time', () => {
		expect(Object.isFrozen(Status)).toBe(true)
		expect(Object.isFrozen(MessageStatus)).toBe(true)
		expect(() => {
			Status.DONE = 'finished'
		}).toThrow(TypeError)
		expect(Status.DONE).toBe('done')
	})

	test('an answer moves forward: connecting, waiting, streaming, then one final status', () => {
		const path = [Status.IDLE, Status.CONNECTING, Status.WAITING, Status.STREAMING, Status.DONE]
		for (let i = 1; i < path.length; i++) {
			expect(canMove(path[i - 1], path[i]), `${path[i - 1]} -> ${path[i]}`).toBe(true)
		}
		for (const final of [Status.DONE, Status.CANCELLED, Status.ERROR]) {
			expect(canMove(Status.CONNECTING, final)).toBe(true)
			expect(canMove(Status.STREAMING, final)).toBe(true)
		}
	})

	test('never moves back: no waiting after text, nothing after the end but a reset', () => {
		expect(canMove(Status.STREAMING, Status.WAITING)).toBe(false)
		expect(canMove(Status.STREAMING, Status.CONNECTING)).toBe(false)
		expect(canMove(Status.WAITING, Status.CONNECTING)).toBe(false)
		expect(canMove(Status.IDLE, Status.STREAMING)).toBe(false)
		for (const final of [Status.DONE, Status.CANCELLED, Status.ERROR]) {
			expect(canMove(final, Status.STREAMING)).toBe(false)
			expect(canMove(final, Status.WAITING)).toBe(false)
			expect(canMove(final, Status.DONE === final ? Status.ERROR : Status.DONE)).toBe(false)
			expect(canMove(final, Status.IDLE)).toBe(true)
		}
		expect(canMove(Status.STREAMING, Status.STREAMING)).toBe(true)
	})

	test('detached is an outcome of start(), never a status to move to', () => {
		for (const from of Object.values(Status)) {
			if (from !== Status.DETACHED) {
				expect(canMove(from, Status.DETACHED)).toBe(false)
			}
		}
		expect(canMove('bogus', Status.IDLE)).toBe(false)
	})

	test('active means the answer is still on its way', () => {
		expect(Object.values(Status).filter(isActive)).toEqual([Status.CONNECTING, Status.WAITING, Status.STREAMING])
	})

	test('maps to and from the statuses the server stores', () => {
		expect(finalStatus(MessageStatus.CANCELLED)).toBe(Status.CANCELLED)
		expect(finalStatus(MessageStatus.ERROR)).toBe(Status.ERROR)
		expect(finalStatus(MessageStatus.DONE)).toBe(Status.DONE)
		expect(finalStatus(MessageStatus.INTERRUPTED)).toBe(Status.DONE)
		expect(finalStatus(undefined)).toBe(Status.DONE)
		expect(messageStatusOf(Status.STREAMING)).toBe(MessageStatus.GENERATING)
		expect(messageStatusOf(Status.CONNECTING)).toBe(MessageStatus.GENERATING)
		expect(messageStatusOf(Status.CANCELLED)).toBe(MessageStatus.CANCELLED)
	})
})

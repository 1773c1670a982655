import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { describeCode, makeError } from '../../src/errors.js'

describe('errors', () => {
	test('a known code has a title and advice in the user\'s words', () => {
		const d = describeCode('provider_auth')
		expect(d.title).toBe('The AI provider rejected the API key.')
		expect(d.advice).toMatch(/API key/)
	})

	test('rate_limited says how long to wait when the server said so', () => {
		expect(describeCode('rate_limited', { retryAfter: 2.2 }).advice).toBe('Please wait 3 seconds and try again.')
		expect(describeCode('rate_limited').advice).toBe('Please wait a moment and try again.')
	})

	test('an unknown code falls back to the server\'s message, then to a generic one', () => {
		expect(describeCode('no_such_code')).toEqual({ title: '', advice: '' })
		expect(describeCode('toString')).toEqual({ title: '', advice: '' })
		expect(makeError({ message: 'Boom', code: 'no_such_code' })).toMatchObject({ message: 'Boom', serverMessage: 'Boom', advice: '' })
		expect(makeError().message).toBe('Something went wrong.')
	})

	test('every code with advice has a title, one table line each as code: t(\'assistant_stream\', ...)', () => {
		const source = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../src/errors.js'), 'utf8')
		const [titles, advice] = source.split('function advice()')
		const codes = (text) => [...text.matchAll(/^\t\t(\w+): t\('assistant_stream', '/gm)].map((m) => m[1])
		expect(codes(titles).length).toBeGreaterThan(15)
		for (const code of codes(advice)) {
			expect(codes(titles)).toContain(code)
			expect(describeCode(code).title).not.toBe('')
		}
	})
})

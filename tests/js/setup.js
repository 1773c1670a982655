/**
 * Before every test file: the page's initial state (local mode, SSE straight to the app under
 * /app), axios sending through the fake server, and the fake EventSource.
 */
import axios from '@nextcloud/axios'
import { afterEach, beforeEach, vi } from 'vitest'
import { FakeEventSource } from './fakes/eventSource.js'
import { FakeServer } from './fakes/server.js'

const config = { appId: 'assistant_stream', local: true, apiBase: '/app', delivery: { mode: 'direct', streamBase: null, reason: '' } }
const state = document.createElement('input')
state.type = 'hidden'
state.id = 'initial-state-app_api-config'
state.value = btoa(JSON.stringify(config))
document.body.append(state)

/** The fake server of the running test (a new one for each test). */
export let server = null

beforeEach(() => {
	server = new FakeServer()
	globalThis.server = server
	axios.defaults.adapter = 'fetch'
	axios.defaults.env = { ...axios.defaults.env, fetch: server.fetch }
	FakeEventSource.instances = []
	vi.stubGlobal('EventSource', FakeEventSource)
})

afterEach(() => {
	vi.useRealTimers()
})

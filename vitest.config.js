/**
 * Vitest: unit tests of the composables and transports (tests/js/), in happy-dom with a fake
 * EventSource and a fake fetch behind axios (tests/js/fakes/). The real browser is the Playwright
 * suite's (tests/browser/).
 */
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'

export default defineConfig({
	plugins: [vue()],
	define: {
		// @nextcloud/vue reads these build-time globals (see vite.config.js)
		appName: JSON.stringify('assistant_stream'),
		appVersion: JSON.stringify('test'),
	},
	test: {
		environment: 'happy-dom',
		environmentOptions: { happyDOM: { url: 'http://nextcloud.test/index.php/apps/app_api/embedded/assistant_stream/chat' } },
		include: ['tests/js/**/*.test.js'],
		setupFiles: ['tests/js/setup.js'],
		// @nextcloud/vue's components import their CSS: let Vite load them, so components that use them mount
		server: { deps: { inline: [/@nextcloud\/vue/] } },
		restoreMocks: true,
		unstubGlobals: true,
	},
})

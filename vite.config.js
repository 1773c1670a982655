import vue from '@vitejs/plugin-vue'
import { readFileSync } from 'node:fs'
/**
 * Plain Vite + @vitejs/plugin-vue (see README): one classic IIFE script with a fixed name,
 * js/assistant_stream-main.js, and one stylesheet, js/assistant_stream-main.css, which the
 * ExApp registers with AppAPI (no module loader, no hashed chunks). After it, the extras that the
 * page loads on demand (KaTeX, highlight.js languages) at fixed names: tools/build-extras.mjs.
 */
import { defineConfig } from 'vite'
import { buildExtras } from './tools/build-extras.mjs'

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

export default defineConfig(({ mode }) => ({
	plugins: [vue(), {
		name: 'assistant-stream-extras',
		apply: 'build',
		closeBundle: () => buildExtras({ minify: mode !== 'development' }),
	}],
	define: {
		// @nextcloud/vue 9 reads these build-time globals (what @nextcloud/vite-config would replace)
		appName: JSON.stringify('assistant_stream'),
		appVersion: JSON.stringify(pkg.version),
		'process.env.NODE_ENV': JSON.stringify(mode === 'development' ? 'development' : 'production'),
		__VUE_OPTIONS_API__: 'true',
		__VUE_PROD_DEVTOOLS__: 'false',
		__VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
	},
	build: {
		outDir: 'js',
		emptyOutDir: false, // keep js/.gitkeep; the fixed names are overwritten on every build
		target: 'es2022', // native class fields: no esbuild helpers hoisted outside the IIFE as globals
		cssCodeSplit: false,
		assetsInlineLimit: 1024 * 1024, // inline any url() asset into the CSS: no extra files to serve
		sourcemap: mode === 'development',
		minify: mode !== 'development',
		reportCompressedSize: true,
		chunkSizeWarningLimit: 1500,
		rollupOptions: {
			input: 'src/main.js',
			output: {
				format: 'iife',
				name: 'AssistantStream',
				inlineDynamicImports: true,
				entryFileNames: 'assistant_stream-main.js',
				assetFileNames: (asset) => {
					const name = asset.names?.[0] ?? asset.name ?? ''
					return name.endsWith('.css') ? 'assistant_stream-main.css' : 'assistant_stream-[name][extname]'
				},
			},
		},
	},
}))

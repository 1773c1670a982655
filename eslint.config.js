/**
 * ESLint: Nextcloud's shared flat config for JavaScript and Vue 3 (@nextcloud/eslint-config 9),
 * over src/, the Vitest tests and the build files.
 *
 * Pinned to 9.0.0-rc.9, the last release that runs on Node 20: 9.0.1 needs Node 22.14 (it imports
 * findPackageJSON from node:module, and fails to load on Node 20).
 */
import { recommendedJavascript } from '@nextcloud/eslint-config'

export default [
	{
		ignores: ['js/**', 'lib/**', 'docs/**', 'bench/**', 'tests/artifacts/**'],
	},
	...recommendedJavascript,
]

/** Extra js/assistant_stream-katex.js (+ .css and its woff2 fonts): KaTeX, for render/tex.js. */
import katex from 'katex'
import { defineExtra } from './define.js'

import 'katex/dist/katex.min.css'

defineExtra('katex', katex)

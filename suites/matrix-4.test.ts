import { matrixSuite } from '../harness/index.js';

// Part 4 of the capability matrix (MIGTEST_MATRIX, default "default"); see config/matrices/.
matrixSuite(4);

// Draws the shipped characters' portraits and their 28 expression sprites (SillyTavern's labels) as PNGs.
//
// Run at development time, never by the app: `cd tools/faces && npm ci && node make_faces.mjs`.
// Art: DiceBear's "Lorelei" style by Lisa Wischofsky, CC0 1.0 (its code: MIT, Florian Körner). The same
// seed and options always give the same pictures, so the output in personas/ can be made again exactly.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAvatar } from '@dicebear/core';
import * as lorelei from '@dicebear/lorelei';
import { Resvg } from '@resvg/resvg-js';

const here = path.dirname(fileURLToPath(import.meta.url));
const personasDir = path.resolve(here, '..', '..', 'personas');
const SIZE = 384;

// Each character's look: what stays the same across its expressions.
const CHARACTERS = {
  aria: {
    hair: 'variant35', hairColor: '8c3b1f', skinColor: 'f5d0b0', head: 'variant02', nose: 'variant02',
    backgroundColor: 'ffd8cc', earrings: 'variant01', earringsColor: 'd4a017', freckles: true,
    portrait: 'joy',
  },
  'captain-vega': {
    hair: 'variant46', hairColor: '1d1411', skinColor: 'a86b4a', head: 'variant03', nose: 'variant04',
    backgroundColor: 'b6d4f4', portrait: 'pride',
  },
  'professor-quill': {
    hair: 'variant28', hairColor: '9a9a9a', skinColor: 'f1c7a8', head: 'variant04', nose: 'variant06',
    backgroundColor: 'd6eccd', glasses: 'variant01', beard: 'variant02', portrait: 'curiosity',
  },
};

// Eyes, brows and mouth per label (the style's own parts; picked by looking at them).
export const EXPRESSIONS = {
  admiration: ['variant09', 'variant02', 'happy05'],
  amusement: ['variant01', 'variant02', 'happy07'],
  anger: ['variant03', 'variant13', 'sad06'],
  annoyance: ['variant03', 'variant10', 'sad05'],
  approval: ['variant02', 'variant04', 'happy01'],
  caring: ['variant19', 'variant02', 'happy13'],
  confusion: ['variant05', 'variant08', 'sad07'],
  curiosity: ['variant14', 'variant09', 'happy14'],
  desire: ['variant12', 'variant11', 'happy17'],
  disappointment: ['variant16', 'variant05', 'sad04'],
  disapproval: ['variant03', 'variant12', 'sad05'],
  disgust: ['variant22', 'variant13', 'sad08'],
  embarrassment: ['variant23', 'variant06', 'happy11'],
  excitement: ['variant09', 'variant03', 'happy16'],
  fear: ['variant13', 'variant06', 'sad01'],
  gratitude: ['variant19', 'variant02', 'happy02'],
  grief: ['variant19', 'variant05', 'sad03'],
  joy: ['variant01', 'variant02', 'happy05'],
  love: ['variant12', 'variant02', 'happy08'],
  nervousness: ['variant14', 'variant06', 'sad07'],
  neutral: ['variant02', 'variant04', 'happy14'],
  optimism: ['variant10', 'variant04', 'happy06'],
  pride: ['variant03', 'variant11', 'happy04'],
  realization: ['variant06', 'variant03', 'sad01'],
  relief: ['variant19', 'variant02', 'happy03'],
  remorse: ['variant16', 'variant05', 'sad03'],
  sadness: ['variant16', 'variant05', 'sad04'],
  surprise: ['variant09', 'variant03', 'sad01'],
};

function svgFor(id, look, label) {
  const [eyes, eyebrows, mouth] = EXPRESSIONS[label];
  return createAvatar(lorelei, {
    seed: id,
    size: SIZE,
    eyes: [eyes],
    eyebrows: [eyebrows],
    mouth: [mouth],
    hair: [look.hair],
    hairColor: [look.hairColor],
    skinColor: [look.skinColor],
    head: [look.head],
    nose: [look.nose],
    backgroundColor: [look.backgroundColor],
    glasses: look.glasses ? [look.glasses] : undefined,
    glassesProbability: look.glasses ? 100 : 0,
    beard: look.beard ? [look.beard] : undefined,
    beardProbability: look.beard ? 100 : 0,
    earrings: look.earrings ? [look.earrings] : undefined,
    earringsColor: look.earringsColor ? [look.earringsColor] : undefined,
    earringsProbability: look.earrings ? 100 : 0,
    frecklesProbability: look.freckles ? 100 : 0,
    hairAccessoriesProbability: 0,
  }).toString();
}

function png(svg) {
  return new Resvg(svg, { fitTo: { mode: 'width', value: SIZE } }).render().asPng();
}

for (const [id, look] of Object.entries(CHARACTERS)) {
  const sprites = path.join(personasDir, `${id}.expressions`);
  fs.mkdirSync(sprites, { recursive: true });
  for (const label of Object.keys(EXPRESSIONS)) {
    fs.writeFileSync(path.join(sprites, `${label}.png`), png(svgFor(id, look, label)));
  }
  fs.writeFileSync(path.join(personasDir, `${id}.png`), png(svgFor(id, look, look.portrait)));
  console.log(`${id}: portrait and ${Object.keys(EXPRESSIONS).length} expressions`);
}

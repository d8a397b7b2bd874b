// Keras and TensorFlow.js layers-model import (`netc import model.json | model.keras | model.h5`).
export { importLayersModel, isLayersModel } from './layers_model.js';
export { importKerasFile, isKerasFile } from './keras_file.js';
export type { ImportResult } from './translate.js';

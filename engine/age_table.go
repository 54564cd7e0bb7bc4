package engine

// Placeholder until the fit runs.
const ageMarginRatio = 0.0

const ageBias = 0.0

var ageWeights = [EmbeddingDim + 1]float32{}

var ageCalibration = [][2]float64{{0, 0}, {1, 1}}

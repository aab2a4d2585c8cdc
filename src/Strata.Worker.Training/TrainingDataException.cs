namespace Strata.Worker.Training;

/// <summary>The data cannot be trained on; the message names the column, line or value at fault.</summary>
public sealed class TrainingDataException(string message) : Exception(message);

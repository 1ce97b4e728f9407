using Microsoft.Extensions.Options;

namespace Safeguard;

/// <summary>Runs an options validator where the options are consumed, so an insecure setting stops start-up even without DI's ValidateOnStart.</summary>
internal static class OptionsGuard
{
    public static TOptions Validated<TOptions>(IValidateOptions<TOptions> validator, IOptions<TOptions> options)
        where TOptions : class
    {
        var value = options.Value;
        var result = validator.Validate(Options.DefaultName, value);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TOptions), result.Failures);
        }

        return value;
    }
}

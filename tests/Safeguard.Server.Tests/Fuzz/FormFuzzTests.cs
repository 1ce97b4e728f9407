using System.Text;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Safeguard.Server.OAuth;
using Safeguard.Tests.Fuzz;

namespace Safeguard.Server.Tests.Fuzz;

/// <summary>
/// The OAuth form parser (every token, revocation and introspection request goes through it) under hostile bodies and
/// content types: no exception escapes, no input hangs or allocates beyond a bound, a refusal is 400 or 413, and the
/// same bytes always read the same way. See <see cref="Mutations"/> and docs/security.md for the long run.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class FormFuzzTests
{
    private const string Body = "grant_type=client_credentials&scope=patient.read%20observation.read&resource=https%3A%2F%2Fapi.example&resource=https%3A%2F%2Fb.example&client_id=lab&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.e30.AAAA";

    private static readonly string[] ContentTypes =
    [
        "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "application/x-www-form-urlencoded; charset=latin1",
        "application/x-www-form-urlencoded; charset=\"utf-8\"; boundary=x", "APPLICATION/X-WWW-FORM-URLENCODED", "multipart/form-data; boundary=x",
        "application/json", "text/plain", string.Empty, "application/x-www-form-urlencoded;;;", "application/x-www-form-urlencoded; charset=",
    ];

    [Fact]
    public void OAuthForm_NeverThrows_RefusesWith400Or413_AndIsDeterministic()
    {
        Assert.True(Read(Encoding.ASCII.GetBytes(Body), ContentTypes[0]).IsValid);

        Gen.Select(Mutations.OfBytes(Encoding.ASCII.GetBytes(Body)), Gen.Int[0, ContentTypes.Length - 1]).Sample((body, type) => Mutations.Bounded(() =>
        {
            var first = Read(body, ContentTypes[type]);
            var second = Read(body, ContentTypes[type]);
            return first.IsValid == second.IsValid
                && (first.IsValid
                    ? first.Form["grant_type"] == second.Form!["grant_type"] && first.Form.Resources.SequenceEqual(second.Form.Resources)
                    : first.Status is 400 or 413 && first.Error.Length > 0);
        }), iter: Mutations.Iterations, print: input => Mutations.Print(Encoding.UTF8.GetString(input.Item1)) + " as " + ContentTypes[input.Item2]);
    }

    private static OAuthFormResult Read(byte[] body, string contentType)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        context.Request.ContentType = contentType.Length == 0 ? null : contentType;
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body, writable: false);
        var read = OAuthForm.ReadAsync(context.Request, CancellationToken.None);
        return read.GetAwaiter().GetResult();
    }
}

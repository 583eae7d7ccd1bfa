// GOV.UK Frontend's start-of-body line, as a file: the portal's Content-Security-Policy allows no inline script
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');

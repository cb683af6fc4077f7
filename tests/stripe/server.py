"""localstripe (PyPI), started by the tests, with what Participe's billing uses and
localstripe 1.15 lacks. Everything else is localstripe's own code and behaviour:
customers, legacy plans, tax rates, subscriptions, invoices, payments, signed webhooks.

Added here:
- subscriptions billed by invoice: `collection_method=send_invoice` with `days_until_due`
  and `payment_settings` (bank transfer); their invoice is finalized and left open, due in
  `days_until_due` days, never charged;
- invoice numbers, hosted page and PDF addresses (https, as Stripe's; not served here);
- `POST /v1/invoices/{id}/pay` with `paid_out_of_band=true`: a transfer received;
- Checkout sessions (`mode=subscription`): the session's page at `/_config/hosted/checkout/{id}`
  pays with a test card or SEPA mandate on `POST`, which subscribes the customer, sends
  `checkout.session.completed` and goes back to `success_url`;
- customer portal sessions (`/v1/billing_portal/sessions`);
- webhooks delivered one at a time in the order they happen, with a `Host` header
  (Participe's console is reached by its host name);
- nothing written to disk: each test starts its own server from scratch.

Usage: python server.py --port PORT [--webhook-url URL --webhook-secret S --webhook-host H]
Requests and errors are logged to stderr.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import socket
import time

import aiohttp
from aiohttp import web

from localstripe import resources as r
from localstripe import webhooks as w
from localstripe.errors import UserError

BASE = 'http://127.0.0.1'
_invoice_numbers = iter(range(1, 1_000_000))

# Each test's server starts empty and keeps nothing.
r.store.dump_to_disk = lambda *args, **kwargs: None


# --- Subscriptions billed by invoice --------------------------------------------------

_sub_init = r.Subscription.__init__


def _sub_init_with_collection(self, collection_method='charge_automatically',
                              days_until_due=None, payment_settings=None,
                              **kwargs):
    days_until_due = r.try_convert_to_int(days_until_due)
    if collection_method not in ('charge_automatically', 'send_invoice'):
        raise UserError(400, 'Invalid collection_method')
    if collection_method == 'send_invoice':
        if type(days_until_due) is not int or days_until_due < 1:
            raise UserError(400, 'days_until_due is required with send_invoice')
    elif days_until_due is not None:
        raise UserError(400, 'days_until_due is only for send_invoice')
    if payment_settings is not None:
        types = payment_settings.get('payment_method_types', [])
        if type(types) is not list or not set(types) <= {
                'card', 'sepa_debit', 'customer_balance'}:
            raise UserError(400, 'Invalid payment_settings')
        balance = payment_settings.get('payment_method_options', {}) \
            .get('customer_balance')
        if balance is not None and (
                balance.get('funding_type') != 'bank_transfer' or
                balance.get('bank_transfer', {}).get('type') !=
                'eu_bank_transfer' or
                'country' not in balance['bank_transfer'].get(
                    'eu_bank_transfer', {})):
            raise UserError(400, 'Invalid customer_balance options')
    # Set before localstripe's constructor, which creates the first invoice.
    self.collection_method = collection_method
    self.days_until_due = days_until_due
    self.payment_settings = payment_settings
    _sub_init(self, **kwargs)


r.Subscription.__init__ = _sub_init_with_collection

_sub_create_invoice = r.Subscription._create_invoice


def _sub_create_invoice_by_collection(self):
    if getattr(self, 'collection_method', None) != 'send_invoice':
        return _sub_create_invoice(self)
    invoice = r.Invoice(
        customer=self.customer, subscription=self.id,
        items=list(self.items._list), tax_percent=self.tax_percent,
        default_tax_rates=[tr.id for tr in (self.default_tax_rates or [])],
        date=self.current_period_start)
    invoice.collection_method = 'send_invoice'
    invoice.due_date = invoice.created + self.days_until_due * 86400
    invoice.payment_settings = self.payment_settings
    invoice._finalize()
    self.latest_invoice = invoice.id
    self.status = 'active'
    w.schedule_webhook(r.Event('invoice.finalized', invoice))
    w.schedule_webhook(r.Event('invoice.sent', invoice))


r.Subscription._create_invoice = _sub_create_invoice_by_collection


# --- Invoices: numbers, addresses, paid out of band -----------------------------------

_invoice_finalize = r.Invoice._finalize


def _invoice_finalize_numbered(self):
    _invoice_finalize(self)
    self.number = 'PART-%04d' % next(_invoice_numbers)
    self.hosted_invoice_url = 'https://invoice.localstripe.test/i/' + self.id
    self.invoice_pdf = 'https://invoice.localstripe.test/i/%s/pdf' % self.id


r.Invoice._finalize = _invoice_finalize_numbered

_invoice_status = r.Invoice.status.fget


def _invoice_status_out_of_band(self):
    if getattr(self, '_paid_out_of_band', False):
        return 'paid'
    return _invoice_status(self)


r.Invoice.status = property(_invoice_status_out_of_band)


def _pay_invoice(id, paid_out_of_band=None, **kwargs):
    if r.try_convert_to_bool(paid_out_of_band) is True:
        invoice = r.Invoice._api_retrieve(id)
        if invoice.status != 'open':
            raise UserError(400, 'Invoice is not open')
        invoice._paid_out_of_band = True
        invoice._on_payment_success()
        w.schedule_webhook(r.Event('invoice.paid', invoice))
        return invoice
    if kwargs:
        raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
    return r.Invoice._api_pay_invoice(id)


# --- Checkout sessions and the customer portal ----------------------------------------

class CheckoutSession(r.StripeObject):
    object = 'checkout.session'
    _id_prefix = 'cs_test_'

    def __init__(self, mode=None, customer=None, line_items=None,
                 success_url=None, cancel_url=None,
                 allowed_payment_method_types=None, payment_method_types=None,
                 subscription_data=None, client_reference_id=None,
                 locale=None, metadata=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        methods = allowed_payment_method_types or payment_method_types or \
            ['card']
        try:
            assert mode == 'subscription'
            assert type(customer) is str
            assert type(line_items) is list and len(line_items) == 1
            assert type(line_items[0].get('price')) is str
            assert type(success_url) is str and success_url.startswith('http')
            assert type(cancel_url) is str and cancel_url.startswith('http')
            assert type(methods) is list
            assert set(methods) <= {'card', 'sepa_debit'}
        except AssertionError:
            raise UserError(400, 'Bad request')
        r.Customer._api_retrieve(customer)
        r.Plan._api_retrieve(line_items[0]['price'])
        for tr in line_items[0].get('tax_rates', []):
            r.TaxRate._api_retrieve(tr)

        super().__init__()
        self.mode = mode
        self.customer = customer
        self.client_reference_id = client_reference_id
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.payment_method_types = methods
        self.locale = locale
        self.metadata = metadata or {}
        self.status = 'open'
        self.payment_status = 'unpaid'
        self.subscription = None
        self.url = '%s/_config/hosted/checkout/%s' % (BASE, self.id)
        self._line_item = line_items[0]
        self._subscription_data = subscription_data or {}

    def _pay(self, method):
        if self.status != 'open':
            raise UserError(400, 'This Checkout session is not open')
        if method not in self.payment_method_types:
            raise UserError(400, 'Payment method not offered')
        if method == 'card':
            pm = r.PaymentMethod(type='card', card={
                'number': '4242424242424242', 'exp_month': 12,
                'exp_year': 2030, 'cvc': '123'})
        else:
            pm = r.PaymentMethod(type='sepa_debit', sepa_debit={
                'iban': 'FR1420041010050500013M02606'})
        r.PaymentMethod._api_attach(pm.id, customer=self.customer)
        r.Customer._api_update(self.customer, invoice_settings={
            'default_payment_method': pm.id})
        sub = r.Subscription(
            customer=self.customer,
            items=[{'plan': self._line_item['price'],
                    'quantity': self._line_item.get('quantity', 1),
                    'tax_rates': self._line_item.get('tax_rates', [])}],
            metadata=self._subscription_data.get('metadata'))
        self.status = 'complete'
        self.payment_status = 'paid'
        self.subscription = sub.id
        w.schedule_webhook(r.Event('checkout.session.completed', self))
        return self.success_url.replace('{CHECKOUT_SESSION_ID}', self.id)


class PortalSession(r.StripeObject):
    object = 'billing_portal.session'
    _id_prefix = 'bps_'

    def __init__(self, customer=None, return_url=None, locale=None,
                 configuration=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
        try:
            assert type(customer) is str
            assert return_url is None or (type(return_url) is str and
                                          return_url.startswith('http'))
        except AssertionError:
            raise UserError(400, 'Bad request')
        r.Customer._api_retrieve(customer)
        super().__init__()
        self.customer = customer
        self.return_url = return_url
        self.locale = locale
        self.url = '%s/_config/hosted/portal/%s' % (BASE, self.id)


# Routes, registered by localstripe's server when it is imported: ours first, so that
# they take precedence over its own.
r.extra_apis[:0] = [
    ('POST', '/v1/invoices/{id}/pay', _pay_invoice),
    ('POST', '/v1/checkout/sessions', CheckoutSession._api_create),
    ('GET', '/v1/checkout/sessions/{id}',
     lambda id, **kw: CheckoutSession._api_retrieve(id)),
    ('POST', '/v1/billing_portal/sessions', PortalSession._api_create),
]
from localstripe import server as s  # noqa: E402 (after the routes above)


async def checkout_page(request):
    session = CheckoutSession._api_retrieve(request.match_info['id'])
    if request.method == 'POST':
        data = await request.post()
        target = session._pay(data.get('method', 'card'))
        raise web.HTTPSeeOther(target)
    options = ''.join(
        '<button name="method" value="%s">Payer (%s)</button>' % (m, m)
        for m in session.payment_method_types)
    return web.Response(
        content_type='text/html',
        text='<!doctype html><html lang="fr"><title>Paiement</title>'
             '<form method="post">%s</form><a href="%s">Annuler</a></html>'
             % (options, session.cancel_url))


async def portal_page(request):
    session = PortalSession._api_retrieve(request.match_info['id'])
    return web.Response(
        content_type='text/html',
        text='<!doctype html><html lang="fr"><title>Portail client</title>'
             '<p>%s</p><a href="%s">Retour</a></html>'
             % (session.customer, session.return_url or ''))


s.app.router.add_route('*', '/_config/hosted/checkout/{id}', checkout_page)
s.app.router.add_get('/_config/hosted/portal/{id}', portal_page)


# --- Webhooks: in order, with a Host header -------------------------------------------

_queue = None
_webhook = {}


async def _deliver():
    logger = logging.getLogger('aiohttp.access')
    async with aiohttp.ClientSession() as session:
        while True:
            event = await _queue.get()
            payload = json.dumps(event._export(), sort_keys=True).encode()
            signature = hmac.new(
                _webhook['secret'].encode(),
                b'%d.%s' % (event.created, payload), hashlib.sha256).hexdigest()
            headers = {
                'Content-Type': 'application/json; charset=utf-8',
                'Stripe-Signature': 't=%d,v1=%s' % (event.created, signature)}
            if _webhook.get('host'):
                headers['Host'] = _webhook['host']
            try:
                async with session.post(_webhook['url'], data=payload,
                                        headers=headers) as resp:
                    logger.info('webhook %s %s: %d', event.type, event.id,
                                resp.status)
            except aiohttp.ClientError as e:
                logger.info('webhook %s failed: %s', event.type, e)


def _schedule(event):
    if _webhook:
        _queue.put_nowait(event)


w.schedule_webhook = _schedule
r.schedule_webhook = _schedule


def main():
    global BASE, _queue
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--webhook-url')
    parser.add_argument('--webhook-secret')
    parser.add_argument('--webhook-host')
    args = parser.parse_args()
    BASE = 'http://127.0.0.1:%d' % args.port
    if args.webhook_url:
        _webhook.update(url=args.webhook_url, secret=args.webhook_secret,
                        host=args.webhook_host)

    logger = logging.getLogger('aiohttp.access')
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler())

    async def on_startup(app):
        global _queue
        _queue = asyncio.Queue()
        app['deliver'] = asyncio.ensure_future(_deliver())

    s.app.on_startup.append(on_startup)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', args.port))
    web.run_app(s.app, sock=sock, access_log=logger, print=None)


if __name__ == '__main__':
    main()

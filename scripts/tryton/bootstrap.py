"""Company and accounting basics for a fresh Tryton 6.0 database, so a sale can
be confirmed and its invoice posted and paid. Run by setup.sh with proteus in
direct mode while no trytond serves the same file (see the reference on
Tryton: direct-mode proteus commits each call and must not share the file).

Usage: /usr/bin/python3 bootstrap.py <trytond.conf> <database name>
"""
import datetime
import sys
from decimal import Decimal

from proteus import Model, Wizard, config

conf, database = sys.argv[1], sys.argv[2]
company_currency = sys.argv[3] if len(sys.argv) > 3 else 'EUR'
cfg = config.set_trytond(database=database, config_file=conf)

# Debian's database has no currencies or countries, and the import scripts
# need the internet: the few the tests and the example use, by hand. Every
# rate is 1: this is a test ERP, not a treasury.
Currency = Model.get('currency.currency')
CurrencyRate = Model.get('currency.currency.rate')
currencies = {}
for code, name, symbol in [('EUR', 'Euro', '€'), ('USD', 'U.S. Dollar', '$'), ('GBP', 'Pound Sterling', '£')]:
    currency = Currency(name=name, symbol=symbol, code=code, rounding=Decimal('0.01'), digits=2)
    currency.save()
    CurrencyRate(date=datetime.date(2000, 1, 1), rate=Decimal('1'), currency=currency).save()
    currencies[code] = currency

Country = Model.get('country.country')
for code, name in [('US', 'United States'), ('GB', 'United Kingdom'), ('DE', 'Germany'), ('FR', 'France'),
                   ('NL', 'Netherlands'), ('BE', 'Belgium'), ('ES', 'Spain'), ('IT', 'Italy'),
                   ('AT', 'Austria'), ('CH', 'Switzerland'), ('IE', 'Ireland'), ('CA', 'Canada')]:
    Country(name=name, code=code).save()

Party = Model.get('party.party')
company_party = Party(name='Hub Test Co')
company_party.save()
company_config = Wizard('company.company.config')
company_config.execute('company')
company_config.form.party = company_party
company_config.form.currency = currencies[company_currency]
company_config.execute('add')
company, = Model.get('company.company').find()

# An employee for admin, as a person using the client would have.
User = Model.get('res.user')
Employee = Model.get('company.employee')
employee_party = Party(name='Hub Admin')
employee_party.save()
employee = Employee(party=employee_party, company=company)
employee.save()
admin = User(cfg.user)
admin.employees.append(employee)
admin.employee = employee
admin.save()
cfg._context = User.get_preferences(True, {})

# The minimal chart Tryton ships (receivable, payable, revenue, expense, cash, tax).
ModelData = Model.get('ir.model.data')
AccountTemplate = Model.get('account.account.template')
Account = Model.get('account.account')
template_data, = ModelData.find([('module', '=', 'account'), ('fs_id', '=', 'account_template_root_en')], limit=1)
chart = Wizard('account.create_chart')
chart.execute('account')
chart.form.account_template = AccountTemplate(template_data.db_id)
chart.form.company = company
chart.execute('create_account')
accounts = {}
for kind in ('receivable', 'payable', 'revenue', 'expense'):
    accounts[kind], = Account.find([('type.%s' % kind, '=', True), ('company', '=', company.id)], limit=1)
for kind, name in (('cash', 'Main Cash'), ('tax', 'Main Tax')):
    accounts[kind], = Account.find([('name', '=', name), ('company', '=', company.id)], limit=1)
chart.form.account_receivable = accounts['receivable']
chart.form.account_payable = accounts['payable']
chart.execute('create_properties')

# This year and the next, so a test run on 31 December still posts.
# The invoice sequences must be set in the same save as the fiscal year, or
# it fails with "A value is required for field Supplier Credit Note Sequence".
FiscalYear = Model.get('account.fiscalyear')
Sequence = Model.get('ir.sequence')
SequenceStrict = Model.get('ir.sequence.strict')
SequenceType = Model.get('ir.sequence.type')
move_type, = SequenceType.find([('name', '=', 'Account Move')], limit=1)
invoice_type, = SequenceType.find([('name', '=', 'Invoice')], limit=1)
today = datetime.date.today()
for year in (today.year, today.year + 1):
    move_sequence = Sequence(name=str(year), sequence_type=move_type, company=company)
    move_sequence.save()
    # Invoice numbers like INV2026-1 rather than a bare counter.
    invoice_sequence = SequenceStrict(name=str(year), sequence_type=invoice_type, company=company,
                                      prefix='INV%s-' % year)
    invoice_sequence.save()
    fiscalyear = FiscalYear(name=str(year), company=company, post_move_sequence=move_sequence,
                            start_date=datetime.date(year, 1, 1), end_date=datetime.date(year, 12, 31))
    sequences, = fiscalyear.invoice_sequences
    sequences.out_invoice_sequence = invoice_sequence
    sequences.in_invoice_sequence = invoice_sequence
    sequences.out_credit_note_sequence = invoice_sequence
    sequences.in_credit_note_sequence = invoice_sequence
    fiscalyear.save()
    fiscalyear.click('create_period')

Tax = Model.get('account.tax')
tax = Tax(name='VAT 10%', description='VAT 10%', type='percentage', rate=Decimal('.10'),
          invoice_account=accounts['tax'], credit_note_account=accounts['tax'])
tax.save()

Category = Model.get('product.category')
category = Category(name='Goods', accounting=True,
                    account_revenue=accounts['revenue'], account_expense=accounts['expense'])
category.customer_taxes.append(Tax(tax.id))
category.save()

PaymentTerm = Model.get('account.invoice.payment_term')
term = PaymentTerm(name='Net 30')
line = term.lines.new(type='remainder')
line.relativedeltas.new(days=30)
term.save()

Journal = Model.get('account.journal')
PaymentMethod = Model.get('account.invoice.payment.method')
cash_journal, = Journal.find([('type', '=', 'cash')], limit=1)
PaymentMethod(name='Cash', journal=cash_journal,
              credit_account=accounts['cash'], debit_account=accounts['cash']).save()

print('bootstrap done: company %s in %s' % (company.id, company_currency))
